from django.contrib.auth import views as auth_views
from django.urls import path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "sign-in/",
        auth_views.LoginView.as_view(template_name="frontend/sign_in.html", redirect_authenticated_user=True),
        name="sign_in",
    ),
    path("sign-out/", auth_views.LogoutView.as_view(), name="sign_out"),
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<uuid:customer_id>/", views.customer_detail, name="customer_detail"),
    path("customers/<uuid:customer_id>/edit/", views.customer_edit, name="customer_edit"),
    path("customers/<uuid:customer_id>/delete/", views.customer_delete, name="customer_delete"),
    path("customers/<uuid:customer_id>/invoices/", views.invoice_create, name="invoice_create"),
    path("products/", views.product_list, name="product_list"),
    path("products/new/", views.product_create, name="product_create"),
    path("products/<uuid:product_id>/edit/", views.product_edit, name="product_edit"),
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/<uuid:invoice_id>/", views.invoice_detail, name="invoice_detail"),
]
