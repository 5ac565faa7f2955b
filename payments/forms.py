"""Forms of the customer's payment pages: paying an order, binding a gift card."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

GIFT_CARD = "gift_card"
ANOTHER_CARD = "code"  # the "card" choice that means "use the number typed below"
CARD_NUMBER_ATTRS = {"inputmode": "numeric", "autocomplete": "off", "placeholder": "0000 0000 0000 0000"}


def _digits(value: str) -> str:
    return (value or "").replace(" ", "").replace("-", "").strip()


class PayForm(forms.Form):
    """One channel; for a gift card, either a bound card (its id) or a card number."""

    channel = forms.ChoiceField(label=_("Pay with"))
    card = forms.ChoiceField(label=_("Gift card"), required=False, widget=forms.RadioSelect)
    gift_card_code = forms.CharField(
        label=_("Card number"), required=False, max_length=40,
        widget=forms.TextInput(attrs=CARD_NUMBER_ATTRS),
    )

    def __init__(self, *args, channels, cards, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(g.channel, g.label) for g in channels]
        self.fields["card"].choices = [(str(card.pk), card.masked_code) for card in cards] + [
            (ANOTHER_CARD, _("Another card"))
        ]
        self.has_cards = bool(cards)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("channel") != GIFT_CARD:
            return cleaned
        card = cleaned.get("card") or ("" if self.has_cards else ANOTHER_CARD)
        if "card" in self.errors:
            return cleaned
        if card == ANOTHER_CARD:
            code = _digits(cleaned.get("gift_card_code", ""))
            if not code:
                self.add_error("gift_card_code", _("Enter the gift card's number."))
            cleaned["gift_card_code"] = code
        elif not card:
            self.add_error("card", _("Choose a gift card or enter its number."))
        cleaned["card"] = card
        return cleaned

    def payment_params(self) -> dict:
        data = self.cleaned_data
        if data["channel"] != GIFT_CARD:
            return {}
        if data["card"] == ANOTHER_CARD:
            return {"gift_card_code": data["gift_card_code"]}
        return {"gift_card": int(data["card"])}


class GiftCardBindForm(forms.Form):
    code = forms.CharField(
        label=_("Card number"), max_length=40,
        help_text=_("The 16 digits on the back of the card."),
        widget=forms.TextInput(attrs=CARD_NUMBER_ATTRS),
    )

    def clean_code(self) -> str:
        return _digits(self.cleaned_data["code"])
