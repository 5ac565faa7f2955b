"""Refunds API: the request body, the destination body, and a refund as the API shows it.

Input serializers check shapes and bounds only; every rule (what is refundable, the code, the
risk rules) is the services'. Money goes out as strings ("45.00").
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from ordering.api.serializers import MAX_ID, WholeNumberField
from payments.models import RefundDestination

from ..models import RefundReason, RefundStatus
from ..policy import MAX_REASON_TEXT

REFUND_STATUS_HELP = "One of: " + ", ".join(RefundStatus.values)


class RefundLineInputSerializer(serializers.Serializer):
    line = WholeNumberField(min_value=1, max_value=MAX_ID, help_text=_("Order line id (from the order)."))
    quantity = WholeNumberField(min_value=1, max_value=999, help_text=_("Portions of that line to refund."))


class RefundCreateInputSerializer(serializers.Serializer):
    lines = RefundLineInputSerializer(many=True, required=False, max_length=100,
                                      help_text=_("Leave out to refund the whole order."))
    reason_code = serializers.ChoiceField(choices=RefundReason.choices)
    reason_text = serializers.CharField(required=False, allow_blank=True, max_length=MAX_REASON_TEXT)
    code = serializers.RegexField(r"^\d{6}$", help_text=_("The 6-digit code sent by SMS (refunds/code/)."),
                                  error_messages={"invalid": _("The code is the 6 digits of the SMS.")})


class RefundDestinationInputSerializer(serializers.Serializer):
    destination = serializers.ChoiceField(
        choices=[(RefundDestination.GIFT_CARD, _("Gift card credit")),
                 (RefundDestination.BANK_TRANSFER, _("Bank transfer"))],
    )
    bank_name = serializers.CharField(required=False, allow_blank=True, max_length=60)
    account_name = serializers.CharField(required=False, allow_blank=True, max_length=60)
    account_number = serializers.CharField(required=False, allow_blank=True, max_length=40)


class RefundCodeOutputSerializer(serializers.Serializer):
    sent_to = serializers.CharField(help_text=_("The masked phone number the code went to."))


class RefundLineSerializer(serializers.Serializer):
    line = serializers.IntegerField(source="order_line_id")
    name = serializers.CharField(source="order_line.name")
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)


class RefundShareSerializer(serializers.Serializer):
    channel = serializers.CharField()
    destination = serializers.CharField()
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    status = serializers.CharField(allow_null=True)
    account = serializers.CharField(allow_blank=True, help_text=_("Where it goes, masked."))


class ArrivalSerializer(serializers.Serializer):
    at_once = serializers.BooleanField()
    earliest = serializers.DateField(allow_null=True)
    latest = serializers.DateField(allow_null=True)


class StepSerializer(serializers.Serializer):
    at = serializers.DateTimeField(allow_null=True)
    label = serializers.CharField()
    detail = serializers.CharField(allow_blank=True)
    done = serializers.BooleanField()
    bad = serializers.BooleanField()


class RefundSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField(source="display_number")
    order = serializers.UUIDField(source="order_id")
    status = serializers.CharField(help_text=REFUND_STATUS_HELP)
    status_display = serializers.CharField(source="get_status_display")
    amount = serializers.DecimalField(max_digits=10, decimal_places=2)
    whole_order = serializers.BooleanField(source="is_full")
    reason_code = serializers.CharField()
    reason_text = serializers.CharField(allow_blank=True)
    source = serializers.CharField()
    created_at = serializers.DateTimeField()
    review_deadline = serializers.DateTimeField(allow_null=True)
    review_note = serializers.CharField(allow_blank=True)
    failure_reason = serializers.CharField(allow_blank=True)
    lines = RefundLineSerializer(many=True, source="lines.all")
    shares = RefundShareSerializer(many=True)
    expected_arrival = ArrivalSerializer()
    timeline = StepSerializer(many=True)
    can_withdraw = serializers.BooleanField()
    can_change_destination = serializers.BooleanField()
