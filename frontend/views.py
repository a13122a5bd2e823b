"""Pages. Each view asks frontend.api for what it shows; a service that cannot answer becomes a
banner on the page (the rest still renders), never an error page. Forms use Post/Redirect/Get."""

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template import loader
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from frontend import api
from frontend.auth import api_token_for
from frontend.forms import CustomerForm, InvoiceForm, NewCustomerForm, NewProductForm, ProductForm, apply_api_errors

T = TypeVar("T")


class Outages:
    """Messages about services that could not answer while this page was built."""

    def __init__(self) -> None:
        self.messages: dict[str, str] = {}

    def add(self, error: api.ApiError) -> None:
        self.messages.setdefault(error.service, error.message)

    def fetch(self, call: Callable[..., T], **kwargs: Any) -> T | None:
        try:
            return call(**kwargs)
        except api.ApiUnavailable as error:
            self.add(error)
            return None

    def __iter__(self) -> Iterator[str]:
        return iter(self.messages.values())

    def __bool__(self) -> bool:
        return bool(self.messages)


def _fetch_or_404(outages: Outages, call: Callable[..., T], **kwargs: Any) -> T | None:
    try:
        return outages.fetch(call, **kwargs)
    except api.ApiNotFound:
        raise Http404 from None
    except api.ApiValidationError:
        # A malformed cursor or id in the URL names no page.
        raise Http404 from None


def _submit(form: Any, outages: Outages, call: Callable[..., T], **kwargs: Any) -> T | None:
    """Send a valid form to an API. None when the API refused the values (its messages are now on
    the form's fields, or above it: e.g. a form's Idempotency-Key already used with other values)
    or could not answer (a banner); an entity that no longer exists is a 404."""
    try:
        return call(**kwargs, **form.cleaned_data)
    except api.ApiNotFound:
        raise Http404 from None
    except api.ApiValidationError as error:
        apply_api_errors(form, error.fields, error.message)
    except api.ApiRejected as error:
        form.add_error(None, error.message)
    except api.ApiUnavailable as error:
        outages.add(error)
    return None


def _say_created(request: HttpRequest, created: api.Created[Any], kind: str, success: str) -> None:
    """The flash message of a create form: `success`, or, when the API replayed an earlier request
    with the form's Idempotency-Key, that the form had been sent before."""
    if created.replayed:
        messages.info(request, f"That form was already submitted: {kind} “{created.entity.name}” exists once.")
    else:
        messages.success(request, success)


def _page_size() -> int:
    return int(settings.FRONTEND_PAGE_SIZE)


def _cursor(request: HttpRequest) -> str | None:
    return request.GET.get("cursor") or None


# ------------------------------------------------------------------------------
# Overview
# ------------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    outages = Outages()
    return render(
        request,
        "frontend/home.html",
        {
            "customers": outages.fetch(api.customer_list, limit=5),
            "products": outages.fetch(api.product_list, limit=5),
            "invoices": outages.fetch(api.invoice_list, limit=5),
            "outages": outages,
        },
    )


# ------------------------------------------------------------------------------
# Customers
# ------------------------------------------------------------------------------


@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    outages = Outages()
    cursor = _cursor(request)
    page = _fetch_or_404(outages, api.customer_list, cursor=cursor, limit=_page_size())
    return render(request, "frontend/customer_list.html", {"page": page, "cursor": cursor, "outages": outages})


@login_required
@require_http_methods(["GET", "POST"])
def customer_create(request: HttpRequest) -> HttpResponse:
    outages = Outages()
    form = NewCustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = _submit(form, outages, api.customer_create, token=api_token_for(request))
        if created is not None:
            customer = created.entity
            _say_created(request, created, "customer", f"Customer “{customer.name}” was created.")
            return redirect("frontend:customer_detail", customer_id=customer.id)
    return render(
        request,
        "frontend/customer_form.html",
        {"form": form, "outages": outages, "title": "New customer", "submit": "Create customer"},
    )


@require_GET
def customer_detail(request: HttpRequest, customer_id: str) -> HttpResponse:
    return _customer_page(request, customer_id, Outages(), invoice_form=None)


def _customer_page(
    request: HttpRequest, customer_id: str, outages: Outages, *, invoice_form: InvoiceForm | None
) -> HttpResponse:
    customer = _fetch_or_404(outages, api.customer_get, customer_id=customer_id)
    cursor = _cursor(request)
    invoices = outages.fetch(api.invoice_list, customer_id=customer_id, cursor=cursor, limit=_page_size())
    products = outages.fetch(api.product_choices) or []
    if invoice_form is None:
        invoice_form = InvoiceForm(products=products)
    return render(
        request,
        "frontend/customer_detail.html",
        {
            "customer": customer,
            "customer_id": customer_id,
            "invoices": invoices,
            "invoices_total": sum((invoice.total for invoice in invoices.results), start=0) if invoices else None,
            "cursor": cursor,
            "products": products,
            "products_unavailable": "products" in outages.messages,
            "invoice_form": invoice_form,
            "outages": outages,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request: HttpRequest, customer_id: str) -> HttpResponse:
    outages = Outages()
    customer = _fetch_or_404(outages, api.customer_get, customer_id=customer_id)
    initial = {"name": customer.name, "address": customer.address} if customer else None
    form = CustomerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = _submit(form, outages, api.customer_update, token=api_token_for(request), customer_id=customer_id)
        if saved is not None:
            messages.success(request, f"Customer “{saved.name}” was saved.")
            return redirect("frontend:customer_detail", customer_id=customer_id)
    return render(
        request,
        "frontend/customer_form.html",
        {
            "form": form,
            "outages": outages,
            "customer": customer,
            "customer_id": customer_id,
            "title": f"Edit {customer.name}" if customer else "Edit customer",
            "submit": "Save changes",
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def customer_delete(request: HttpRequest, customer_id: str) -> HttpResponse:
    outages = Outages()
    if request.method == "POST":
        try:
            api.customer_delete(token=api_token_for(request), customer_id=customer_id)
        except api.ApiNotFound:
            messages.info(request, "That customer had already been deleted.")
            return redirect("frontend:customer_list")
        except api.ApiUnavailable as error:
            outages.add(error)
        else:
            messages.success(request, "The customer was deleted. Their invoices are kept.")
            return redirect("frontend:customer_list")
    customer = _fetch_or_404(outages, api.customer_get, customer_id=customer_id)
    return render(
        request,
        "frontend/customer_confirm_delete.html",
        {"customer": customer, "customer_id": customer_id, "outages": outages},
    )


# ------------------------------------------------------------------------------
# Products
# ------------------------------------------------------------------------------


@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    outages = Outages()
    cursor = _cursor(request)
    page = _fetch_or_404(outages, api.product_list, cursor=cursor, limit=_page_size())
    return render(request, "frontend/product_list.html", {"page": page, "cursor": cursor, "outages": outages})


@login_required
@require_http_methods(["GET", "POST"])
def product_create(request: HttpRequest) -> HttpResponse:
    outages = Outages()
    form = NewProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = _submit(form, outages, api.product_create, token=api_token_for(request))
        if created is not None:
            product = created.entity
            _say_created(request, created, "product", f"Product “{product.name}” was created at {product.unit_price}.")
            return redirect("frontend:product_list")
    return render(
        request,
        "frontend/product_form.html",
        {"form": form, "outages": outages, "title": "New product", "submit": "Create product"},
    )


@login_required
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, product_id: str) -> HttpResponse:
    outages = Outages()
    product = _fetch_or_404(outages, api.product_get, product_id=product_id)
    initial = {"name": product.name, "unit_price": product.unit_price} if product else None
    form = ProductForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = _submit(form, outages, api.product_update, token=api_token_for(request), product_id=product_id)
        if saved is not None:
            messages.success(request, f"Product “{saved.name}” was saved.")
            return redirect("frontend:product_list")
    return render(
        request,
        "frontend/product_form.html",
        {
            "form": form,
            "outages": outages,
            "product": product,
            "title": f"Edit {product.name}" if product else "Edit product",
            "submit": "Save changes",
            "note": "Invoices already issued keep the price they were issued at.",
        },
    )


# ------------------------------------------------------------------------------
# Invoices
# ------------------------------------------------------------------------------


@require_GET
def invoice_list(request: HttpRequest) -> HttpResponse:
    outages = Outages()
    cursor = _cursor(request)
    page = _fetch_or_404(outages, api.invoice_list, cursor=cursor, limit=_page_size())
    return render(request, "frontend/invoice_list.html", {"page": page, "cursor": cursor, "outages": outages})


@require_GET
def invoice_detail(request: HttpRequest, invoice_id: str) -> HttpResponse:
    outages = Outages()
    invoice = _fetch_or_404(outages, api.invoice_get, invoice_id=invoice_id)
    return render(request, "frontend/invoice_detail.html", {"invoice": invoice, "outages": outages})


@login_required
@require_http_methods(["GET", "POST"])
def invoice_create(request: HttpRequest, customer_id: str) -> HttpResponse:
    if request.method == "GET":
        # Where sign-in sends an operator who had started issuing an invoice: the form is on that page.
        return redirect("frontend:customer_detail", customer_id=customer_id)
    outages = Outages()
    products = outages.fetch(api.product_choices) or []
    form = InvoiceForm(request.POST, products=products)
    if form.is_valid():
        try:
            issued = api.invoice_create(
                token=api_token_for(request),
                customer_id=customer_id,
                product_id=form.cleaned_data["product_id"],
                quantity=form.cleaned_data["quantity"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except api.ApiValidationError as error:
            apply_api_errors(form, error.fields, error.message)
        except api.ApiRejected as error:
            form.add_error(None, error.message)
        except api.ApiUnavailable as error:
            outages.add(error)
        else:
            invoice = issued.entity
            if issued.replayed:
                messages.info(request, f"That form was already submitted: invoice for {invoice.total} exists once.")
            else:
                messages.success(
                    request, f"Invoice issued: {invoice.quantity} x {invoice.product_name} = {invoice.total}."
                )
            return HttpResponseRedirect(reverse("frontend:customer_detail", args=[customer_id]) + "#invoices")
    return _customer_page(request, customer_id, outages, invoice_form=form)


# ------------------------------------------------------------------------------
# Error pages (HTML, unlike the APIs' JSON)
# ------------------------------------------------------------------------------


def _error_page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    return render(request, "frontend/error.html", {"status": status, "title": title, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 400, "Bad request", "The browser sent something this site cannot read.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 403, "Not allowed", "You are not allowed to do that.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(request, 404, "Page not found", "There is nothing at this address. It may have been deleted.")


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: whatever failed may be in it.
    body = loader.get_template("frontend/500.html").render({})
    return HttpResponse(body, status=500)
