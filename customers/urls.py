from rest_framework.routers import SimpleRouter

from customers.views import CustomerViewSet

# SimpleRouter: no API root view and no format-suffix URLs (`<id>.json`), which the views do not take.
router = SimpleRouter(trailing_slash=True)
router.register("customers", CustomerViewSet, basename="customer")

urlpatterns = router.urls
