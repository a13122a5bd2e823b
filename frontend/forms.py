"""HTML forms. They only check what must be there and that it parses (a number is a number); the
APIs own the rules (lengths, ranges, decimal places), and their validation errors are shown on
the same fields (apply_api_errors), so a rule lives in one place."""

import uuid
from typing import Any, cast

from django import forms

from products.domain import Product


def _new_key() -> str:
    return uuid.uuid4().hex


class CreateOnceForm(forms.Form):
    """A form that creates something: its Idempotency-Key is made when the form renders and kept
    when it renders again with the submitted values, so submitting the same form twice creates one."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=200, initial=_new_key)


class CustomerForm(forms.Form):
    name = forms.CharField()
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class NewCustomerForm(CreateOnceForm, CustomerForm):
    pass


class ProductForm(forms.Form):
    name = forms.CharField()
    unit_price = forms.DecimalField(
        label="Unit price",
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )


class NewProductForm(CreateOnceForm, ProductForm):
    pass


class ProductChoiceField(forms.ChoiceField):
    """A select of known products that accepts any product id: the invoices API checks it exists,
    and the form must still work when the product list could not be fetched."""

    def valid_value(self, value: str) -> bool:
        try:
            uuid.UUID(value)
        except ValueError:
            return False
        return True


class InvoiceForm(CreateOnceForm):
    product_id = ProductChoiceField(label="Product")
    quantity = forms.IntegerField(initial=1)

    def __init__(self, *args: Any, products: list[Product], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(p.id, f"{p.name} — {p.unit_price}") for p in products]
        product_field = cast(ProductChoiceField, self.fields["product_id"])
        product_field.choices = [("", "Choose a product…"), *choices]


def apply_api_errors(form: forms.Form, fields: dict[str, list[str]], message: str) -> None:
    """Show an API's validation errors next to the matching fields, the rest above the form."""
    for name, errors in fields.items():
        messages = errors if isinstance(errors, list) else [str(errors)]
        target = name if name in form.fields else None
        for text in messages:
            form.add_error(target, text if target or name == "non_field_errors" else f"{name}: {text}")
    if not fields:
        form.add_error(None, message)
