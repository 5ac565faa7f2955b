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


# --- The menu. The serializers below document the response (drf-spectacular); the view builds it
# with store_menu_representation(), which is several times faster than nested serializers on
# a 300-dish menu. test_public_api checks that both agree on every field.


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
    id = serializers.IntegerField(help_text=_("What an order line names as its dish (POST /api/v1/orders/)."))
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
    option_groups = serializers.ListField(
        child=serializers.CharField(),
        help_text=_("Codes of the dish's option groups, in order; each is described once in the menu's option_groups."),
    )


class MenuCategorySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    dishes = MenuDishSerializer(many=True)


class StoreMenuSerializer(serializers.Serializer):
    store = StoreSerializer()
    categories = MenuCategorySerializer(many=True)
    option_groups = MenuOptionGroupSerializer(
        many=True, help_text=_("Every option group offered by a dish on this menu, once, in menu order.")
    )


def store_menu_representation(menu: selectors.StoreMenu, *, now) -> dict:
    """The menu response that ``StoreMenuSerializer`` documents, built from plain data.

    Money is a string with 2 decimals and nutrition with 1 (``f"{Decimal:.2f}"`` is exact).
    Tags and allergens are rendered once per code and shared between dishes.
    """
    named: dict[int, dict] = {}  # id(NamedCode) -> its representation

    def named_list(items) -> list[dict]:
        result = []
        for item in items:
            data = named.get(id(item))
            if data is None:
                data = named[id(item)] = {"code": item.code, "name": item.name}
            result.append(data)
        return result

    categories = []
    for category in menu.categories:
        dishes = []
        for dish in category.dishes:
            nutrition = dish.nutrition
            dishes.append(
                {
                    "id": dish.id,
                    "code": dish.code,
                    "name": dish.name,
                    "description": dish.description,
                    "price": f"{dish.price:.2f}",
                    "available": dish.available,
                    "sold_out": not dish.available,
                    "low_stock": dish.low_stock,
                    "stock": dish.stock,
                    "is_set_meal": dish.is_set_meal,
                    "tags": named_list(dish.tags),
                    "allergens": named_list(dish.allergens),
                    "nutrition": {
                        "kcal": nutrition.kcal,
                        "protein_g": f"{nutrition.protein_g:.1f}",
                        "fat_g": f"{nutrition.fat_g:.1f}",
                        "carbs_g": f"{nutrition.carbs_g:.1f}",
                    },
                    "option_groups": [group.code for group in dish.option_groups],
                }
            )
        categories.append({"code": category.code, "name": category.name, "dishes": dishes})
    return {
        "store": StoreSerializer(menu.store, context={"now": now}).data,
        "categories": categories,
        "option_groups": [
            {
                "code": group.code,
                "name": group.name,
                "min_choices": group.min_choices,
                "max_choices": group.max_choices,
                "options": [
                    {
                        "id": option.id,
                        "name": option.name,
                        "price_delta": f"{option.price_delta:.2f}",
                        "is_default": option.is_default,
                    }
                    for option in group.options
                ],
            }
            for group in menu.option_groups
        ],
    }
