"""Serializers of the staff API: store overrides."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from stores.services import MAX_STOCK


class StoreOverrideSerializer(serializers.Serializer):
    dish_code = serializers.CharField(source="dish.code")
    dish_name = serializers.CharField(source="dish.name")
    brand_price = serializers.DecimalField(source="dish.price", max_digits=12, decimal_places=2)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    effective_price = serializers.SerializerMethodField()
    available = serializers.BooleanField(source="is_available")
    stock = serializers.IntegerField(allow_null=True)
    daily_stock = serializers.IntegerField(allow_null=True)
    updated_at = serializers.DateTimeField()

    def get_effective_price(self, obj) -> str:
        return f"{obj.effective_price():.2f}"


class StoreOverridePatchSerializer(serializers.Serializer):
    """What may change about one dish in one store; every field optional, at least one given."""

    available = serializers.BooleanField(required=False)
    price = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0"), required=False, allow_null=True,
        help_text=_("Null goes back to the brand price."),
    )
    stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK, required=False, allow_null=True,
                                     help_text=_("Null means unlimited."))
    daily_stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK, required=False, allow_null=True)

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields) if hasattr(self.initial_data, "keys") else set()
        if unknown:
            raise serializers.ValidationError(
                {field: [_("Unknown field.")] for field in sorted(unknown)}, code="unknown_field"
            )
        if not attrs:
            raise serializers.ValidationError(_("Give at least one of available, price, stock, daily_stock."),
                                              code="empty")
        return attrs

    def service_fields(self) -> dict:
        data = dict(self.validated_data)
        if "available" in data:
            data["is_available"] = data.pop("available")
        return data
