"""Admin of per-store overrides (price, availability, stock); every write goes through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import DecimalField, F
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from config.api import DomainError
from config.net import client_ip

from .. import services
from ..forms import OverrideAdminForm
from ..models import StoreDishOverride
from ..resources import StorePriceResource
from .filters import AvailabilityFilter, StoreCityFilter
from .scoping import ScopedAdmin, ScopedCsvImportExportMixin


@admin.register(StoreDishOverride)
class StoreDishOverrideAdmin(ScopedCsvImportExportMixin, ScopedAdmin):
    form = OverrideAdminForm
    store_path = "store"
    resource_classes = [StorePriceResource]
    list_display = ("store", "dish", "effective_price_display", "price", "is_available", "stock", "daily_stock",
                    "updated_at")
    list_select_related = ("store", "dish")
    list_filter = (StoreCityFilter, ("store", admin.RelatedOnlyFieldListFilter), AvailabilityFilter, "is_available")
    search_fields = ("store__code", "store__name", "dish__code", "dish__name_zh", "dish__name_en")
    autocomplete_fields = ("dish",)
    actions = ("mark_sold_out", "mark_available", "reset_stock")
    list_per_page = 100

    def get_queryset(self, request):
        return (
            super().get_queryset(request)
            .select_related("store", "dish")
            .annotate(
                _effective_price=Coalesce(
                    F("price"), F("dish__price"), output_field=DecimalField(max_digits=12, decimal_places=2)
                ),
            )
        )

    @admin.display(description=_("effective price"), ordering="_effective_price")
    def effective_price_display(self, obj):
        return f"{obj._effective_price:.2f}"

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields += ["store", "dish"]
        if not services.may_set_price(request.user):
            fields.append("price")
        return fields

    def save_model(self, request, obj, form, change):
        ip = client_ip(request)
        if change:
            changed = {name: form.cleaned_data[name] for name in services.OVERRIDE_FIELDS if name in form.changed_data}
            saved = services.override_update(actor=request.user, override=obj, ip=ip, **changed)
        else:
            values = {name: form.cleaned_data[name] for name in services.OVERRIDE_FIELDS if name in form.cleaned_data}
            saved = services.override_set(
                actor=request.user, store=form.cleaned_data["store"], dish=form.cleaned_data["dish"], ip=ip, **values
            )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.override_delete(actor=request.user, override=obj, ip=client_ip(request))

    def delete_queryset(self, request, queryset):
        for override in queryset.order_by("pk"):
            services.override_delete(actor=request.user, override=override, ip=client_ip(request))

    def _apply(self, request, queryset, action):
        try:
            result = services.overrides_apply(actor=request.user, overrides=list(queryset), action=action,
                                              ip=client_ip(request))
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(
            request,
            _("%(count)d store dishes changed, %(unchanged)d unchanged.")
            % {"count": result.count, "unchanged": result.unchanged},
            messages.SUCCESS,
        )

    @admin.action(description=_("Mark sold out"), permissions=["change"])
    def mark_sold_out(self, request, queryset):
        self._apply(request, queryset, "sold_out")

    @admin.action(description=_("Mark available"), permissions=["change"])
    def mark_available(self, request, queryset):
        self._apply(request, queryset, "available")

    @admin.action(description=_("Reset stock to the daily stock"), permissions=["change"])
    def reset_stock(self, request, queryset):
        self._apply(request, queryset, "reset_stock")

    def has_import_permission(self, request):
        return request.user.has_perm("stores.change_storedishoverride")

    def has_export_permission(self, request):
        return self.has_view_permission(request)
