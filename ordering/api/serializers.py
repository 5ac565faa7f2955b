"""Orders API: the submit body, the redeem body, and the order as the API shows it.

Input serializers only check shapes and bounds; every business rule (menu, stock, opening hours,
delivery radius, frozen accounts) is the service's. Money goes out as strings ("45.00").
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ordering.models import KITCHEN_STATES, Order, OrderStatus
from ordering.services import MAX_LINES, MAX_QUANTITY, NOTE_MAX, LineRequest
from stores.models import FulfilmentMode

MAX_ID = 2**63 - 1  # BigAutoField: a larger id would be a database error, not "unknown dish"
MAX_OPTIONS_PER_LINE = 20
COORDINATE = Decimal("0.000001")
# The pickup code is shown once the order is paid, and kept after it was collected.
PICKUP_CODE_VISIBLE = (*KITCHEN_STATES, OrderStatus.COMPLETED)
# Statuses are documented as strings: two enums named "status" would collide in the schema.
ORDER_STATUS_HELP = "One of: " + ", ".join(OrderStatus.values)


class WholeNumberField(serializers.IntegerField):
    """An integer: ``3`` or ``"3"``; never ``true``, ``2.5`` or ``2.0``."""

    def to_internal_value(self, data):
        if isinstance(data, bool | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class OrderLineInputSerializer(serializers.Serializer):
    dish = WholeNumberField(min_value=1, max_value=MAX_ID, help_text=_("Dish id (from the store's menu)."))
    quantity = WholeNumberField(min_value=1, max_value=MAX_QUANTITY)
    options = serializers.ListField(
        child=WholeNumberField(min_value=1, max_value=MAX_ID), required=False, default=list,
        max_length=MAX_OPTIONS_PER_LINE, help_text=_("Option ids chosen for this dish."),
    )


def _coordinate(value: Decimal | None, limit: int) -> Decimal | None:
    if value is None:
        return None
    if abs(value) > limit:
        raise serializers.ValidationError(
            _("Ensure this value is between -%(limit)d and %(limit)d.") % {"limit": limit}, code="invalid"
        )
    return value.quantize(COORDINATE, rounding=ROUND_HALF_UP)


class OrderCreateInputSerializer(serializers.Serializer):
    store = serializers.CharField(max_length=32, help_text=_("Store code, e.g. SH001."))
    fulfilment = serializers.ChoiceField(choices=FulfilmentMode.choices)
    lines = OrderLineInputSerializer(many=True, allow_empty=False, max_length=MAX_LINES)
    table = serializers.CharField(
        max_length=16, required=False, allow_blank=True, default="", help_text=_("Table code (dine-in).")
    )
    address = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    latitude = serializers.DecimalField(
        max_digits=None, decimal_places=None, required=False, allow_null=True, default=None,
        help_text=_("Delivery location, -90..90."),
    )
    longitude = serializers.DecimalField(
        max_digits=None, decimal_places=None, required=False, allow_null=True, default=None,
        help_text=_("Delivery location, -180..180."),
    )
    note = serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")

    def validate_latitude(self, value):
        return _coordinate(value, 90)

    def validate_longitude(self, value):
        return _coordinate(value, 180)

    def service_fields(self) -> dict:
        """The keyword arguments of ``order_submit`` (besides actor, store, source and the key)."""
        data = self.validated_data
        return {
            "fulfilment": data["fulfilment"],
            "lines": [
                LineRequest(dish_id=line["dish"], quantity=line["quantity"], option_ids=tuple(line["options"]))
                for line in data["lines"]
            ],
            "table": data["table"],
            "address": data["address"],
            "latitude": data["latitude"],
            "longitude": data["longitude"],
            "note": data["note"],
        }


class OrderRedeemInputSerializer(serializers.Serializer):
    pickup_code = serializers.CharField(
        max_length=32, allow_blank=True, help_text=_("The 6-digit code the customer shows.")
    )


# --- Output ---


class OrderLineOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    price_delta = serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderLineSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text=_("Order line id: what a partial refund names (lines[].line)."))
    dish = serializers.CharField(source="dish_code", help_text=_("Dish code."))
    dish_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField()
    options = serializers.SerializerMethodField()
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2)
    quantity = serializers.IntegerField()
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2)

    @extend_schema_field(OrderLineOptionSerializer(many=True))
    def get_options(self, line) -> list[dict]:
        english = (get_language() or "").startswith("en")
        return [
            {
                "id": option.get("option"),
                "name": (option.get("name_en") if english and option.get("name_en") else option.get("name_zh", "")),
                "price_delta": option.get("price_delta", "0.00"),
            }
            for option in line.options
        ]


# One unbound field formats every money fact (its ``to_representation`` keeps no state).
_MONEY = serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderMoneySerializer(serializers.Serializer):
    paid = serializers.DecimalField(max_digits=12, decimal_places=2)
    due = serializers.DecimalField(max_digits=12, decimal_places=2)
    refunded = serializers.DecimalField(max_digits=12, decimal_places=2)
    refundable = serializers.DecimalField(max_digits=12, decimal_places=2)


class OrderSummarySerializer(serializers.Serializer):
    """An order in the customer's list (no money facts: those are on the order itself)."""

    id = serializers.UUIDField()
    store = serializers.CharField(source="store.code", help_text=_("Store code."))
    number = serializers.IntegerField(help_text=_("Order number of the store and day."))
    display_number = serializers.CharField(help_text=_("The number as called out, e.g. 007."))
    status = serializers.CharField(help_text=ORDER_STATUS_HELP)
    status_display = serializers.CharField(source="get_status_display")
    fulfilment = serializers.ChoiceField(choices=FulfilmentMode.choices)
    table = serializers.CharField(source="table_code")
    lines = OrderLineSerializer(many=True)
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    delivery_fee = serializers.DecimalField(max_digits=12, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    pickup_code = serializers.SerializerMethodField(help_text=_("Shown once the order is paid."))
    expires_at = serializers.DateTimeField(help_text=_("Pay before this time."))
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field({"type": "string", "nullable": True, "example": "042517"})
    def get_pickup_code(self, order: Order) -> str | None:
        return order.pickup_code if order.status in PICKUP_CODE_VISIBLE and order.pickup_code else None


class OrderSerializer(OrderSummarySerializer):
    """One order with its money facts (``context["money"]``: ``ordering.selectors.order_money``)."""

    address = serializers.CharField(source="delivery_address")
    note = serializers.CharField()
    money = serializers.SerializerMethodField()
    completed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(OrderMoneySerializer)
    def get_money(self, order: Order) -> dict:
        # What ``OrderMoneySerializer(...).data`` gives, without building a serializer per order.
        money = self.context["money"]
        return {
            "paid": _MONEY.to_representation(money.paid),
            "due": _MONEY.to_representation(money.due),
            "refunded": _MONEY.to_representation(money.refunded),
            "refundable": _MONEY.to_representation(money.refundable),
        }
