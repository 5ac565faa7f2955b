"""The refund form of the order page and of the store counter: portions per line, a reason,
the SMS code. It checks shapes only; the service decides what may be refunded."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from payments.models import RefundDestination

from .models import RefundReason
from .policy import MAX_REASON_TEXT
from .selectors import OrderRefundable


class RefundForm(forms.Form):
    reason_code = forms.ChoiceField(label=_("Reason"), choices=[("", _("Choose a reason")), *RefundReason.choices])
    reason_text = forms.CharField(label=_("Tell us more (optional)"), required=False, max_length=MAX_REASON_TEXT,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    code = forms.RegexField(
        label=_("SMS code"), regex=r"^\d{6}$", required=False,
        error_messages={"invalid": _("The code is the 6 digits of the SMS.")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6}),
    )

    def __init__(self, *args, refundable: OrderRefundable, **kwargs):
        super().__init__(*args, **kwargs)
        self.refundable = refundable
        self.open_lines = [rl for rl in refundable.lines if rl.remaining > 0]
        for rl in self.open_lines:
            self.fields[self.quantity_name(rl)] = forms.TypedChoiceField(
                label=rl.line.name, coerce=int, initial=rl.remaining,
                choices=[(n, str(n)) for n in range(rl.remaining + 1)],
            )

    @staticmethod
    def quantity_name(rl) -> str:
        return f"qty_{rl.line.pk}"

    def line_rows(self):
        return [(rl, self[self.quantity_name(rl)]) for rl in self.open_lines]

    def clean(self):
        data = super().clean()
        if self.open_lines and not any(data.get(self.quantity_name(rl)) for rl in self.open_lines):
            raise forms.ValidationError(_("Choose at least one portion to refund."))
        return data

    def lines(self) -> list[dict] | None:
        """``None`` (the whole order, delivery fee included) when every portion of an order with
        nothing refunded yet is asked for; else the portions asked for."""
        asked = {rl.line.pk: self.cleaned_data.get(self.quantity_name(rl)) or 0 for rl in self.open_lines}
        untouched = all(rl.remaining == rl.line.quantity for rl in self.refundable.lines)
        if untouched and all(asked[rl.line.pk] == rl.remaining for rl in self.open_lines):
            return None
        return [{"line": line_id, "quantity": quantity} for line_id, quantity in asked.items() if quantity]


class DestinationForm(forms.Form):
    destination = forms.ChoiceField(
        label=_("Where should the money go?"), widget=forms.RadioSelect,
        choices=[(RefundDestination.GIFT_CARD, _("Credit on a gift card, at once")),
                 (RefundDestination.BANK_TRANSFER, _("A bank transfer to my account (1 to 5 business days)"))],
    )
    bank_name = forms.CharField(label=_("Bank"), required=False, max_length=60)
    account_name = forms.CharField(label=_("Account holder"), required=False, max_length=60)
    account_number = forms.CharField(label=_("Account number"), required=False, max_length=40,
                                     widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
