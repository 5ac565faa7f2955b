"""Admins of brands, stores (with their opening hours and overrides inline) and staff assignments."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

import segno
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from config.api import DomainError
from config.net import client_ip

from .. import services
from ..forms import OverrideInlineFormSet
from ..models import (
    CUSTOMER_PAYMENT_CHANNELS,
    Brand,
    DiningTable,
    OpeningHours,
    StaffAssignment,
    Store,
    StoreDishOverride,
)
from .bulk import StoreBulkActionsMixin
from .filters import CityFilter, ModeFilter
from .scoping import ScopedAdmin, TenantScopedMixin, save_brand_children

OVERRIDE_INLINE_LIMIT = 50


class ZeroWhenEmptyMoneyField(forms.DecimalField):
    """A fee that may be left empty: empty means none (0.00)."""

    def to_python(self, value):
        value = super().to_python(value)
        return Decimal("0.00") if value is None else value


@admin.register(Brand)
class BrandAdmin(ScopedAdmin):
    brand_path = "id"
    list_display = ("code", "name", "kind", "is_active", "order_expiry_minutes", "kitchen_alert_minutes", "store_count")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")
    readonly_fields = ("created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_store_count=Count("stores"))

    @admin.display(description=_("stores"), ordering="_store_count")
    def store_count(self, obj):
        return obj._store_count

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.append("code")
        return fields


class OpeningHoursInline(TenantScopedMixin, admin.TabularInline):
    model = OpeningHours
    fields = ("weekday", "opens", "closes")
    extra = 0

    def get_readonly_fields(self, request, obj=None):
        return ()


class StoreDishOverrideInline(TenantScopedMixin, admin.TabularInline):
    model = StoreDishOverride
    formset = OverrideInlineFormSet
    fields = ("dish", "price", "is_available", "stock", "daily_stock")
    autocomplete_fields = ("dish",)
    extra = 1
    can_delete = False
    # Lazy, so the title follows each request's language rather than the one at start-up.
    verbose_name_plural = lazy(
        lambda: _("store dish overrides (first %(limit)d; all of them under Store dish overrides)")
        % {"limit": OVERRIDE_INLINE_LIMIT},
        str,
    )()

    def get_readonly_fields(self, request, obj=None):
        return () if services.may_set_price(request.user) else ("price",)

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("dish")
        match = request.resolver_match
        object_id = match.kwargs.get("object_id") if match else None
        if object_id and str(object_id).isdigit():
            first = list(
                StoreDishOverride.objects.filter(store_id=int(object_id))
                .order_by("dish__category__sort_order", "dish__sort_order", "pk")
                .values_list("pk", flat=True)[:OVERRIDE_INLINE_LIMIT]
            )
            qs = qs.filter(pk__in=first)
        return qs


@admin.register(Store)
class StoreAdmin(StoreBulkActionsMixin, ScopedAdmin):
    store_path = "id"
    list_display = ("code", "name", "brand", "city", "district", "is_open", "offers_pickup", "offers_delivery",
                    "offers_dine_in", "overrides_link")
    list_select_related = ("brand",)
    list_filter = (("brand", admin.RelatedOnlyFieldListFilter), CityFilter, "is_open", ModeFilter)
    search_fields = ("code", "name", "city", "district", "address")
    readonly_fields = ("created_at",)
    inlines = (OpeningHoursInline, StoreDishOverrideInline)
    actions = ("bulk_sold_out", "bulk_available", "bulk_price", "bulk_reset_stock", "open_stores", "close_stores",
               "print_table_qr")
    list_per_page = 100
    # Adds "Tables" and "Print table QR codes" to the store's page.
    change_form_template = "admin/stores/table_qr_change_form.html"

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "payment_channels":
            return forms.TypedMultipleChoiceField(
                choices=CUSTOMER_PAYMENT_CHANNELS, required=False, widget=forms.CheckboxSelectMultiple,
                label=db_field.verbose_name, help_text=db_field.help_text,
            )
        if db_field.name == "delivery_fee":
            kwargs.update(form_class=ZeroWhenEmptyMoneyField, required=False,
                          help_text=_("Added to every delivery order of this store; empty means free delivery."))
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description=_("overrides"))
    def overrides_link(self, obj):
        url = reverse("admin:stores_storedishoverride_changelist") + "?" + urlencode({"store__id__exact": obj.pk})
        return format_html('<a href="{}">{}</a>', url, _("overrides"))

    def save_model(self, request, obj, form, change):
        """Nothing yet: ``save_related`` saves the store with its overrides in one service call."""

    def save_related(self, request, form, formsets, change):
        # One call, so that the audit events come last in the transaction (see ``audit_record``).
        edits = []
        for formset in formsets:
            if formset.model is StoreDishOverride:
                edits += self._override_edits(formset)

        def save_children(store):
            form.save_m2m()
            for formset in formsets:
                if formset.model is not StoreDishOverride:
                    self.save_formset(request, form, formset, change=change)

        services.store_save(
            actor=request.user, store=form.instance, changed=form.changed_data if change else (),
            overrides=edits, save_children=save_children, ip=client_ip(request),
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is OpeningHours:
            save_brand_children(formset, parent=form.instance, parent_field="store")
            return None
        return super().save_formset(request, form, formset, change)

    @staticmethod
    def _override_edits(formset) -> list[services.OverrideEdit]:
        """The changed rows of the override inline, as edits for ``store_save``."""
        edits = []
        for inline_form in formset.forms:
            if not inline_form.has_changed() or not inline_form.cleaned_data.get("dish"):
                continue
            values = {
                name: inline_form.cleaned_data.get(name)
                for name in services.OVERRIDE_FIELDS
                if name in inline_form.cleaned_data
            }
            if inline_form.instance.pk is None:
                edits.append(services.OverrideEdit(values=values, dish=inline_form.cleaned_data["dish"]))
            else:
                changed = {k: v for k, v in values.items() if k in inline_form.changed_data}
                edits.append(services.OverrideEdit(values=changed, override=inline_form.instance))
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        return edits

    def _set_open(self, request, queryset, is_open: bool):
        count = 0
        try:
            for store in queryset.order_by("pk"):
                if store.is_open != is_open:
                    services.store_set_open(actor=request.user, store=store, is_open=is_open, ip=client_ip(request))
                    count += 1
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(request, _("%(count)d stores changed.") % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Open selected stores"), permissions=["change"])
    def open_stores(self, request, queryset):
        self._set_open(request, queryset, True)

    @admin.action(description=_("Close selected stores"), permissions=["change"])
    def close_stores(self, request, queryset):
        self._set_open(request, queryset, False)

    # printable table QR codes ------------------------------------------------

    def get_urls(self):
        qr = path("<path:object_id>/table-qr/", self.admin_site.admin_view(self.table_qr_view),
                  name="stores_store_table_qr")
        return [qr, *super().get_urls()]

    def table_qr_view(self, request, object_id):
        store = self.get_object(request, object_id)
        if store is None:
            raise Http404
        if not self.has_view_permission(request, store):
            raise PermissionDenied
        return self._render_table_qr(request, Store.objects.filter(pk=store.pk))

    @admin.action(description=_("Print table QR codes"), permissions=["view"])
    def print_table_qr(self, request, queryset):
        return self._render_table_qr(request, queryset)

    def _render_table_qr(self, request, stores):
        tables = DiningTable.objects.filter(store__in=stores, is_active=True)
        return render_table_qr(request, tables)


def render_table_qr(request, tables):
    """One A4-printable page: a card per table with its store, its code and a QR code of its
    ordering address (``/t/<store>/<table>/``)."""
    cards = []
    for table in tables.select_related("store").order_by("store__code", "code"):
        store = table.store
        url = request.build_absolute_uri(f"/t/{quote(store.code)}/{quote(table.code)}/")
        svg = segno.make(url).svg_inline(scale=5)  # path data only: the URL is encoded, not embedded
        cards.append({"store": store, "table": table, "url": url, "qr": mark_safe(svg)})  # noqa: S308
    return TemplateResponse(request, "admin/stores/table_qr.html", {"title": _("Table QR codes"), "cards": cards})


class DiningTableForm(forms.ModelForm):
    class Meta:
        model = DiningTable
        fields = ("store", "code", "seats", "is_active")

    def clean(self):
        cleaned = super().clean()
        store_id = cleaned["store"].pk if cleaned.get("store") else self.instance.store_id
        code = cleaned.get("code")
        if store_id and code:
            taken = DiningTable.objects.filter(store_id=store_id, code=code).exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error("code", _("This store has a table with this code already."))
        return cleaned


@admin.register(DiningTable)
class DiningTableAdmin(TenantScopedMixin, admin.ModelAdmin):
    """A store's tables for dine-in by QR code. Whoever may change the store manages its tables,
    through ``services.table_save`` / ``table_delete`` (audited; tables keep no history table)."""

    form = DiningTableForm
    store_path = "store"
    list_display = ("code", "store", "seats", "is_active")
    list_select_related = ("store",)
    list_filter = (("store", admin.RelatedOnlyFieldListFilter), "is_active")
    search_fields = ("code", "store__code", "store__name")
    ordering = ("store__code", "code")
    fields = ("store", "code", "seats", "is_active")
    actions = ("print_qr",)
    list_per_page = 100

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and "store" not in fields:
            fields.append("store")  # its QR code names the store
        return fields

    # No permissions of its own: the store's permissions decide.
    def has_view_permission(self, request, obj=None):
        user = request.user
        may = user.has_perm("stores.view_store") or user.has_perm("stores.change_store")
        return may and self.in_scope(request, obj)

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_add_permission(self, request, *args):
        return request.user.has_perm("stores.change_store")

    def has_change_permission(self, request, obj=None):
        return request.user.has_perm("stores.change_store") and self.in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("stores.change_store") and self.in_scope(request, obj)

    def save_model(self, request, obj, form, change):
        saved = services.table_save(actor=request.user, table=obj, changed=form.changed_data if change else (),
                                    ip=client_ip(request))
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        services.table_delete(actor=request.user, table=obj, ip=client_ip(request))

    def delete_queryset(self, request, queryset):
        for table in queryset.order_by("pk"):
            services.table_delete(actor=request.user, table=table, ip=client_ip(request))

    @admin.action(description=_("Print QR codes of the selected tables"), permissions=["view"])
    def print_qr(self, request, queryset):
        return render_table_qr(request, queryset)


@admin.register(StaffAssignment)
class StaffAssignmentAdmin(TenantScopedMixin, admin.ModelAdmin):
    brand_immutable = False  # moving a person to another brand is a superuser's job
    list_display = ("user", "brand", "store_list")
    list_select_related = ("user", "brand")
    search_fields = ("user__phone", "user__name")
    filter_horizontal = ("stores",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("stores")

    @admin.display(description=_("stores"))
    def store_list(self, obj):
        return ", ".join(store.code for store in obj.stores.all())

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser
