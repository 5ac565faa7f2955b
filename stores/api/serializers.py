"""Public store and menu API: query validation and read-only representations."""

import math

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from stores import selectors


class StoreListQuerySerializer(serializers.Serializer):
    city = serializers.CharField(required=False, allow_blank=True, max_length=50, help_text=_("Exact city name."))
    lat = serializers.FloatField(
        required=False, min_value=-90, max_value=90, help_text=_("Latitude of the customer; needs lng.")
    )
    lng = serializers.FloatField(
        required=False, min_value=-180, max_value=180, help_text=_("Longitude of the customer; needs lat.")
    )

    def _finite(self, value):
        if not math.isfinite(value):
            raise serializers.ValidationError(_("A valid number is required."), code="invalid")
        return value

    def validate_lat(self, value):
        return self._finite(value)

    def validate_lng(self, value):
        return self._finite(value)

    def validate(self, attrs):
        if ("lat" in attrs) != ("lng" in attrs):
            raise serializers.ValidationError(
                _("Give both lat and lng, or neither."), code="location_incomplete"
            )
        return attrs


class StoreSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    brand = serializers.CharField(source="brand.code", help_text=_("Brand code."))
    city = serializers.CharField()
    district = serializers.CharField()
    address = serializers.CharField()
    latitude = serializers.DecimalField(max_digits=9, decimal_places=6)
    longitude = serializers.DecimalField(max_digits=9, decimal_places=6)
    fulfilment_modes = serializers.ListField(child=serializers.CharField())
    prep_time_minutes = serializers.IntegerField()
    is_open = serializers.BooleanField(help_text=_("The store's switch: off means it takes no orders."))
    open_now = serializers.SerializerMethodField(help_text=_("Switch on and inside today's opening hours."))
    distance_km = serializers.SerializerMethodField(
        help_text=_("Great-circle distance from lat/lng in km; null without a location.")
    )

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_open_now(self, store) -> bool:
        return selectors.store_is_open_now(store, now=self.context.get("now"))

    @extend_schema_field({"type": "number", "format": "double", "nullable": True})
    def get_distance_km(self, store):
        distance = getattr(store, "distance_km", None)
        return None if distance is None else round(float(distance), 2)


class NamedCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class NutritionSerializer(serializers.Serializer):
    kcal = serializers.IntegerField()
    protein_g = serializers.DecimalField(max_digits=6, decimal_places=1)
    fat_g = serializers.DecimalField(max_digits=6, decimal_places=1)
    carbs_g = serializers.DecimalField(max_digits=6, decimal_places=1)


class MenuOptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    price_delta = serializers.DecimalField(max_digits=12, decimal_places=2)
    is_default = serializers.BooleanField()


class MenuOptionGroupSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    min_choices = serializers.IntegerField()
    max_choices = serializers.IntegerField()
    options = MenuOptionSerializer(many=True)


class MenuDishSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2, help_text=_("This store's price, CNY."))
    available = serializers.BooleanField()
    sold_out = serializers.BooleanField()
    low_stock = serializers.BooleanField()
    stock = serializers.IntegerField(allow_null=True, help_text=_("Portions left today; null means unlimited."))
    is_set_meal = serializers.BooleanField()
    tags = NamedCodeSerializer(many=True)
    allergens = NamedCodeSerializer(many=True)
    nutrition = NutritionSerializer()
    option_groups = MenuOptionGroupSerializer(many=True)


class MenuCategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    dishes = MenuDishSerializer(many=True)


class StoreMenuSerializer(serializers.Serializer):
    store = StoreSerializer()
    categories = MenuCategorySerializer(many=True)
