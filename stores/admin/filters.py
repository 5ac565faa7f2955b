"""Changelist filters of the store and override admins."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..models import Store
from .scoping import scope_store_ids


class CityFilter(admin.SimpleListFilter):
    title = _("city")
    parameter_name = "city"
    store_path = "city"

    def lookups(self, request, model_admin):
        store_ids = scope_store_ids(request)
        qs = Store.objects.all() if store_ids is None else Store.objects.filter(pk__in=store_ids)
        return [(city, city) for city in qs.order_by("city").values_list("city", flat=True).distinct()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.store_path: self.value()})
        return queryset


class StoreCityFilter(CityFilter):
    store_path = "store__city"


class ModeFilter(admin.SimpleListFilter):
    title = _("fulfilment mode")
    parameter_name = "mode"

    def lookups(self, request, model_admin):
        return [("pickup", _("Pickup")), ("delivery", _("Delivery")), ("dine_in", _("Dine-in (table QR)"))]

    def queryset(self, request, queryset):
        field = {"pickup": "offers_pickup", "delivery": "offers_delivery", "dine_in": "offers_dine_in"}.get(
            self.value()
        )
        return queryset.filter(**{field: True}) if field else queryset


class AvailabilityFilter(admin.SimpleListFilter):
    title = _("availability")
    parameter_name = "availability"

    def lookups(self, request, model_admin):
        return [
            ("available", _("Available")),
            ("sold_out", _("Marked sold out")),
            ("no_stock", _("No stock left")),
            ("limited", _("Limited stock")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "available":
            return queryset.filter(is_available=True).exclude(stock=0)
        if value == "sold_out":
            return queryset.filter(is_available=False)
        if value == "no_stock":
            return queryset.filter(stock=0)
        if value == "limited":
            return queryset.filter(stock__isnull=False)
        return queryset
