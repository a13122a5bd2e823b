from rest_framework.routers import SimpleRouter

from invoices.views import InvoiceViewSet

# SimpleRouter: no API root view and no format-suffix URLs (`<id>.json`), which the views do not take.
router = SimpleRouter(trailing_slash=True)
router.register("invoices", InvoiceViewSet, basename="invoice")

urlpatterns = router.urls
