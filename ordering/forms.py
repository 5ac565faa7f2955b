"""Forms of the customer's cart, checkout and kiosk pages. They read and check input only; the cart
(``ordering.cart``) and ``ordering.services.order_submit`` decide what may be ordered."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from stores.models import FulfilmentMode, Store

from .services import MAX_QUANTITY, NOTE_MAX

MAX_OPTIONS = 50


def _quantity_errors() -> dict:
    message = gettext("Choose a quantity between 1 and %(max)d.") % {"max": MAX_QUANTITY}
    return {"required": message, "invalid": message, "min_value": message, "max_value": message}


def first_error(form: forms.Form) -> str:
    """The first error of a form as one sentence, for the cart's message line."""
    for errors in form.errors.values():
        if errors:
            return str(errors[0])
    return str(_("Please check your input."))


class CartAddForm(forms.Form):
    """Add a dish: ``dish``, ``quantity`` and the chosen options.

    Options come as ``options`` (checkboxes) and ``options-<n>`` (one radio group per option group).
    """

    dish = forms.IntegerField(min_value=1, error_messages={
        "required": _("Choose a dish."), "invalid": _("Choose a dish."), "min_value": _("Choose a dish."),
    })
    quantity = forms.IntegerField(min_value=1, max_value=MAX_QUANTITY)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quantity"].error_messages.update(_quantity_errors())

    def clean(self):
        cleaned = super().clean()
        values = []
        for name in self.data:
            if name == "options" or name.startswith("options-"):
                values.extend(v for v in self.data.getlist(name) if v != "")
        if len(values) > MAX_OPTIONS:
            raise forms.ValidationError(_("Too many options chosen."), code="options")
        option_ids = []
        for value in values:
            if not (value.isascii() and value.isdigit()) or len(value) > 18:
                raise forms.ValidationError(_("Choose options from the list."), code="options")
            option_ids.append(int(value))
        cleaned["option_ids"] = option_ids
        return cleaned


class CartLineForm(forms.Form):
    """Change or remove one line of the cart, named by its key (``"12:3.7"``)."""

    line = forms.RegexField(regex=r"^\d{1,18}:[\d.]{0,400}$", max_length=420, error_messages={
        "required": _("That line is no longer in your cart."), "invalid": _("That line is no longer in your cart."),
    })
    quantity = forms.IntegerField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["quantity"].error_messages.update(_quantity_errors())


phone_validator = RegexValidator(r"^\+?[0-9][0-9 -]{4,18}$", _("Enter a phone number we can call."))


class CheckoutForm(forms.Form):
    """How the customer gets the order, how to reach them, and the one-time form token."""

    fulfilment = forms.ChoiceField(label=_("How do you want it?"), widget=forms.RadioSelect)
    address = forms.CharField(label=_("Delivery address"), max_length=255, required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "street-address"}))
    latitude = forms.DecimalField(max_digits=9, decimal_places=6, min_value=Decimal("-90"), max_value=Decimal("90"),
                                  required=False, widget=forms.HiddenInput)
    longitude = forms.DecimalField(max_digits=9, decimal_places=6, min_value=Decimal("-180"),
                                   max_value=Decimal("180"), required=False, widget=forms.HiddenInput)
    contact_phone = forms.CharField(label=_("Contact phone"), max_length=20, validators=[phone_validator],
                                    widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
    note = forms.CharField(label=_("Note for the store"), max_length=NOTE_MAX, required=False,
                           widget=forms.Textarea(attrs={"rows": 2, "maxlength": NOTE_MAX}))
    token = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, store: Store, table: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        modes = [m for m in store.fulfilment_modes if m != FulfilmentMode.DINE_IN or table]
        labels = {
            FulfilmentMode.PICKUP: _("Pickup at the store"),
            FulfilmentMode.DELIVERY: _("Delivery"),
            FulfilmentMode.DINE_IN: _("Dine-in at table %(table)s") % {"table": table},
        }
        self.fields["fulfilment"].choices = [(m, labels[FulfilmentMode(m)]) for m in modes]
        if modes and not self.is_bound:
            self.initial.setdefault("fulfilment", FulfilmentMode.DINE_IN if table and FulfilmentMode.DINE_IN in modes
                                    else modes[0])

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("fulfilment") == FulfilmentMode.DELIVERY:
            if not (cleaned.get("address") or "").strip():
                self.add_error("address", _("Enter a delivery address."))
            if "latitude" not in self.errors and "longitude" not in self.errors and (
                cleaned.get("latitude") is None or cleaned.get("longitude") is None
            ):
                self.add_error("address", _("Tap “Use my location” so the rider can find you."))
        return cleaned


class KioskCheckoutForm(forms.Form):
    """The kiosk asks only where the customer eats; both are pickup at the counter."""

    HERE, AWAY = "here", "away"
    dining = forms.ChoiceField(choices=[(HERE, _("Eat here")), (AWAY, _("Take away"))], error_messages={
        "required": _("Choose “Eat here” or “Take away”."), "invalid_choice": _("Choose “Eat here” or “Take away”."),
    })
    token = forms.CharField(max_length=100)
