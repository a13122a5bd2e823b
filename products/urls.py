from rest_framework.routers import SimpleRouter

from products.views import ProductViewSet

# SimpleRouter: no API root view and no format-suffix URLs (`<id>.json`), which the views do not take.
router = SimpleRouter(trailing_slash=True)
router.register("products", ProductViewSet, basename="product")

urlpatterns = router.urls
