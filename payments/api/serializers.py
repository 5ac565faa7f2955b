"""Payments API: the pay body and the answer (the payment, what the payer does next, the order)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ordering.api.serializers import MAX_ID, ORDER_STATUS_HELP, WholeNumberField
from payments.models import PaymentStatus

PAYMENT_STATUS_HELP = "One of: " + ", ".join(PaymentStatus.values)


class PaymentCreateInputSerializer(serializers.Serializer):
    channel = serializers.CharField(
        max_length=20, help_text=_("wechat, alipay, gift_card, corporate (customers); counter (store staff).")
    )
    gift_card = WholeNumberField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True,
        help_text=_("Id of a gift card bound to your account."),
    )
    gift_card_code = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text=_("Or the card's number.")
    )
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, required=False, allow_null=True,
        help_text=_("CNY; defaults to what is left to pay. More than that is refused."),
    )
    reference = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text=_("Counter payments: receipt or terminal reference.")
    )

    def service_params(self) -> dict:
        data = self.validated_data
        params = {}
        if data.get("gift_card"):
            params["gift_card"] = data["gift_card"]
        if data.get("gift_card_code"):
            params["gift_card_code"] = data["gift_card_code"]
        if data.get("reference"):
            params["reference"] = data["reference"]
        return params


class PaymentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    channel = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    status = serializers.CharField(help_text=PAYMENT_STATUS_HELP)


class PaymentActionSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[("none", "none"), ("redirect", "redirect"), ("qr", "qr"), ("transfer", "transfer")],
        help_text=_("none: nothing to do (settled, or being checked); redirect: open url; qr: show qr_content "
                    "as a QR code; transfer: make a bank transfer quoting reference."),
    )
    url = serializers.CharField(allow_blank=True)
    qr_content = serializers.CharField(allow_blank=True)
    reference = serializers.CharField(allow_blank=True)


class PaymentOrderStateSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField(help_text=ORDER_STATUS_HELP)
    pickup_code = serializers.CharField(allow_null=True, help_text=_("Shown once the order is paid."))


class PaymentCreateOutputSerializer(serializers.Serializer):
    payment = PaymentSerializer()
    status = serializers.CharField(help_text=PAYMENT_STATUS_HELP)
    action = PaymentActionSerializer()
    order = PaymentOrderStateSerializer()
