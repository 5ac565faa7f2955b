"""HQ admin of brands, stores, menus and per-store overrides.

Every admin is scoped (``TenantScopedAdmin``): a staff member sees only the rows of their brand
(HQ) or of their stores (store staff); brand-wide rows (dishes, categories, option groups) are
editable only by HQ managers. Writes to stores and overrides go through ``stores.services`` so
that history and audit are complete.

A row's brand is fixed once it exists (its overrides, hours, options and staff belong to that
brand), and simple-history's "Revert" is switched off: a revert would write past the services
(no audit, no checks), so history pages only show old versions.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.db.models import Count, DecimalField, F
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV
from simple_history.admin import SimpleHistoryAdmin

from config.api import DomainError
from config.net import client_ip

from . import services
from .forms import BULK_KINDS, BrandCodeForm, DishPickForm, OverrideAdminForm, OverrideInlineFormSet, StorePickForm
from .models import (
    Allergen,
    Brand,
    Dish,
    MenuCategory,
    OpeningHours,
    Option,
    OptionGroup,
    StaffAssignment,
    Store,
    StoreDishOverride,
    Tag,
)
from .resources import DishResource, StorePriceResource
from .selectors import brand_ids_visible_to, store_ids_visible_to, user_manages_whole_brand

OVERRIDE_INLINE_LIMIT = 50


# --------------------------------------------------------------------------- scoping


def scope_brand_ids(request) -> set[int] | None:
    if not hasattr(request, "_scope_brand_ids"):
        request._scope_brand_ids = brand_ids_visible_to(request.user)
    return request._scope_brand_ids


def scope_store_ids(request) -> set[int] | None:
    if not hasattr(request, "_scope_store_ids"):
        request._scope_store_ids = store_ids_visible_to(request.user)
    return request._scope_store_ids


def user_brand_id(request) -> int | None:
    """The brand new rows of a non-superuser go into: their single assigned brand."""
    ids = scope_brand_ids(request)
    if ids is None or len(ids) != 1:
        return None
    return next(iter(ids))


def is_hq(request, brand_id: int | None = None) -> bool:
    if request.user.is_superuser:
        return True
    brand_id = brand_id if brand_id is not None else user_brand_id(request)
    return brand_id is not None and user_manages_whole_brand(request.user, brand_id)


class TenantScopedMixin:
    """Rows, choices and permissions limited to the user's brand or stores.

    ``brand_path``: lookup to the row's brand id ("brand" or "id" for Brand itself).
    ``store_path``: lookup to the row's store id for rows of one store (None for brand-wide rows).
    ``brand_wide``: rows every store of the brand shares; changed only by HQ managers.
    """

    brand_path: str | None = "brand"
    store_path: str | None = None
    brand_wide = False
    brand_immutable = True  # the brand of an existing row is read-only, even for superusers

    def scope_queryset(self, request, qs):
        brand_ids = scope_brand_ids(request)
        if brand_ids is not None and self.brand_path:
            qs = qs.filter(**{f"{self.brand_path}__in": brand_ids})
        if self.store_path:
            store_ids = scope_store_ids(request)
            if store_ids is not None:
                qs = qs.filter(**{f"{self.store_path}__in": store_ids})
        return qs

    def get_queryset(self, request):
        return self.scope_queryset(request, super().get_queryset(request))

    def in_scope(self, request, obj) -> bool:
        if obj is None or obj.pk is None:
            return True
        cache = request.__dict__.setdefault("_scope_obj_cache", {})
        key = (type(obj), obj.pk)
        if key not in cache:
            cache[key] = self.scope_queryset(request, type(obj)._default_manager.filter(pk=obj.pk)).exists()
        return cache[key]

    def _may_write_brand_wide(self, request, obj) -> bool:
        if not self.brand_wide:
            return True
        brand_id = getattr(obj, "brand_id", None) if obj is not None else None
        return is_hq(request, brand_id)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self.in_scope(request, obj)

    def has_change_permission(self, request, obj=None):
        return (
            super().has_change_permission(request, obj)
            and self.in_scope(request, obj)
            and self._may_write_brand_wide(request, obj)
        )

    def has_delete_permission(self, request, obj=None):
        return (
            super().has_delete_permission(request, obj)
            and self.in_scope(request, obj)
            and self._may_write_brand_wide(request, obj)
        )

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request, *args) and self._may_write_brand_wide(request, None)

    # choices ---------------------------------------------------------------

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self.scope_choices(request, field.queryset)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self.scope_choices(request, field.queryset)
        return field

    @staticmethod
    def scope_choices(request, qs):
        model = qs.model
        brand_ids = scope_brand_ids(request)
        if model is Store:
            store_ids = scope_store_ids(request)
            return qs if store_ids is None else qs.filter(pk__in=store_ids)
        if brand_ids is None:
            return qs
        if model is Brand:
            return qs.filter(pk__in=brand_ids)
        if any(f.name == "brand" for f in model._meta.get_fields()):
            return qs.filter(brand_id__in=brand_ids)
        return qs

    # brand of new rows -----------------------------------------------------

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        has_brand = any(f.name == "brand" for f in self.model._meta.get_fields())
        exists = obj is not None and obj.pk is not None
        locked = not request.user.is_superuser or (exists and self.brand_immutable)
        if locked and self.brand_path == "brand" and has_brand and "brand" not in fields:
            fields.append("brand")
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form, BrandCodeForm):
            form = type(form.__name__, (form,), {"default_brand_id": user_brand_id(request)})
        return form

    def save_form(self, request, form, change):
        obj = super().save_form(request, form, change)
        if getattr(obj, "brand_id", "absent") is None and not request.user.is_superuser:
            obj.brand_id = user_brand_id(request)
        return obj


class ScopedAdmin(TenantScopedMixin, SimpleHistoryAdmin):
    """History pages show old versions; reverting one is refused (it would skip the services)."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class BrandCodeModelForm(BrandCodeForm):
    class Meta:
        fields = "__all__"


# --------------------------------------------------------------------------- bulk override actions


class BulkOverrideActionsMixin:
    """Actions that lead to an intermediate page and then call one bulk override service."""

    bulk_template = "admin/stores/bulk_override.html"

    def has_change_override_permission(self, request):
        return request.user.has_perm("stores.change_storedishoverride")

    def has_set_price_permission(self, request):
        return self.has_change_override_permission(request) and services.may_set_price(request.user)

    def _bulk_page(self, request, queryset, kind: str, form, picked_label):
        context = {
            **self.admin_site.each_context(request),
            "title": BULK_KINDS[kind],
            "opts": self.model._meta,
            "kind": kind,
            "form": form,
            "objects": list(queryset[:200]),
            "object_count": queryset.count(),
            "picked_label": picked_label,
            "action": request.POST.get("action"),
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.bulk_template, context)

    def _run_bulk(self, request, kind: str, *, stores, dishes, price=None):
        ip = client_ip(request)
        actor = request.user
        try:
            if kind in ("sold_out", "available"):
                result = services.override_set_availability(
                    actor=actor, stores=stores, dishes=dishes, available=kind == "available", ip=ip
                )
            elif kind == "price":
                result = services.override_set_price(actor=actor, stores=stores, dishes=dishes, price=price, ip=ip)
            else:
                result = services.override_reset_stock(actor=actor, stores=stores, dishes=dishes, ip=ip)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        self.message_user(
            request,
            ngettext(
                "%(action)s: %(count)d store dish changed (%(created)d new, %(unchanged)d unchanged).",
                "%(action)s: %(count)d store dishes changed (%(created)d new, %(unchanged)d unchanged).",
                result.count,
            )
            % {
                "action": BULK_KINDS[kind],
                "count": result.count,
                "created": len(result.created),
                "unchanged": result.unchanged,
            },
            messages.SUCCESS,
        )
        return None

    @staticmethod
    def _single_brand(request, queryset, model_admin) -> int | None:
        brand_ids = set(queryset.values_list("brand_id", flat=True).distinct())
        if len(brand_ids) != 1:
            model_admin.message_user(request, _("Pick rows of one brand."), messages.ERROR)
            return None
        return brand_ids.pop()


class DishBulkActionsMixin(BulkOverrideActionsMixin):
    """On the dish changelist: pick the stores."""

    def _dish_bulk(self, request, queryset, kind):
        brand_id = self._single_brand(request, queryset, self)
        if brand_id is None:
            return None
        data = request.POST if "apply" in request.POST else None
        form = StorePickForm(data, user=request.user, brand_id=brand_id, kind=kind)
        if data is not None and form.is_valid():
            return self._run_bulk(
                request, kind, stores=form.cleaned_data["store_list"], dishes=list(queryset),
                price=form.cleaned_data.get("price"),
            )
        return self._bulk_page(request, queryset, kind, form, _("Dishes"))

    @admin.action(description=_("Mark sold out in stores…"), permissions=["change_override"])
    def bulk_sold_out(self, request, queryset):
        return self._dish_bulk(request, queryset, "sold_out")

    @admin.action(description=_("Mark available in stores…"), permissions=["change_override"])
    def bulk_available(self, request, queryset):
        return self._dish_bulk(request, queryset, "available")

    @admin.action(description=_("Set store price…"), permissions=["set_price"])
    def bulk_price(self, request, queryset):
        return self._dish_bulk(request, queryset, "price")

    @admin.action(description=_("Reset stock in stores…"), permissions=["change_override"])
    def bulk_reset_stock(self, request, queryset):
        return self._dish_bulk(request, queryset, "reset_stock")


class StoreBulkActionsMixin(BulkOverrideActionsMixin):
    """On the store changelist: pick the dishes."""

    def _store_bulk(self, request, queryset, kind):
        brand_id = self._single_brand(request, queryset, self)
        if brand_id is None:
            return None
        data = request.POST if "apply" in request.POST else None
        form = DishPickForm(data, brand_id=brand_id, kind=kind)
        if data is not None and form.is_valid():
            return self._run_bulk(
                request, kind, stores=list(queryset), dishes=form.cleaned_data["dish_list"],
                price=form.cleaned_data.get("price"),
            )
        return self._bulk_page(request, queryset, kind, form, _("Stores"))

    @admin.action(description=_("Mark dishes sold out…"), permissions=["change_override"])
    def bulk_sold_out(self, request, queryset):
        return self._store_bulk(request, queryset, "sold_out")

    @admin.action(description=_("Mark dishes available…"), permissions=["change_override"])
    def bulk_available(self, request, queryset):
        return self._store_bulk(request, queryset, "available")

    @admin.action(description=_("Set store price of dishes…"), permissions=["set_price"])
    def bulk_price(self, request, queryset):
        return self._store_bulk(request, queryset, "price")

    @admin.action(description=_("Reset stock…"), permissions=["change_override"])
    def bulk_reset_stock(self, request, queryset):
        return self._store_bulk(request, queryset, "reset_stock")


# --------------------------------------------------------------------------- brand, stores


@admin.register(Brand)
class BrandAdmin(ScopedAdmin):
    brand_path = "id"
    list_display = ("code", "name", "kind", "is_active", "store_count")
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
    actions = ("bulk_sold_out", "bulk_available", "bulk_price", "bulk_reset_stock", "open_stores", "close_stores")
    list_per_page = 100

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
            instances = formset.save(commit=False)
            for obj in formset.deleted_objects:
                obj.delete()
            for hours in instances:
                hours.brand_id = form.instance.brand_id
                hours.store = form.instance
                hours.save()
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


# --------------------------------------------------------------------------- menu


@admin.register(MenuCategory)
class MenuCategoryAdmin(ScopedAdmin):
    form = BrandCodeModelForm
    brand_wide = True
    list_display = ("code", "name_zh", "name_en", "brand", "sort_order")
    list_select_related = ("brand",)
    list_filter = (("brand", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("code", "name_zh", "name_en")


@admin.register(Dish)
class DishAdmin(DishBulkActionsMixin, ImportExportMixin, ScopedAdmin):
    form = BrandCodeModelForm
    brand_wide = True
    resource_classes = [DishResource]
    import_formats = [CSV]
    export_formats = [CSV]
    list_display = ("code", "name_zh", "name_en", "category", "price", "kcal", "is_set_meal", "is_active")
    list_select_related = ("category", "brand")
    list_filter = (
        ("category", admin.RelatedOnlyFieldListFilter), "tags", "allergens", "is_set_meal", "is_active",
    )
    search_fields = ("code", "name_zh", "name_en")
    filter_horizontal = ("tags", "allergens", "option_groups")
    actions = ("bulk_sold_out", "bulk_available", "bulk_price", "bulk_reset_stock")
    list_per_page = 100

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {"user": request.user}

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        kwargs.pop("request", None)
        kwargs["rollback_on_validation_errors"] = True
        return kwargs

    def has_import_permission(self, request):
        return is_hq(request) and request.user.has_perm("stores.add_dish")

    def has_export_permission(self, request):
        return self.has_view_permission(request)


@admin.register(OptionGroup)
class OptionGroupAdmin(ScopedAdmin):
    form = BrandCodeModelForm
    brand_wide = True
    list_display = ("code", "name_zh", "name_en", "min_choices", "max_choices", "brand")
    list_select_related = ("brand",)
    search_fields = ("code", "name_zh", "name_en")

    class OptionInline(TenantScopedMixin, admin.TabularInline):
        model = Option
        fields = ("name_zh", "name_en", "price_delta", "is_default", "sort_order")
        extra = 0
        brand_wide = True

        def get_readonly_fields(self, request, obj=None):
            return ()

    inlines = (OptionInline,)

    def save_formset(self, request, form, formset, change):
        if formset.model is Option:
            instances = formset.save(commit=False)
            for obj in formset.deleted_objects:
                obj.delete()
            for option in instances:
                option.brand_id = form.instance.brand_id
                option.group = form.instance
                option.save()
            return None
        return super().save_formset(request, form, formset, change)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en")
    search_fields = ("code", "name_zh", "name_en")


@admin.register(Allergen)
class AllergenAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en")
    search_fields = ("code", "name_zh", "name_en")


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


# --------------------------------------------------------------------------- overrides


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


@admin.register(StoreDishOverride)
class StoreDishOverrideAdmin(ImportExportMixin, ScopedAdmin):
    form = OverrideAdminForm
    store_path = "store"
    resource_classes = [StorePriceResource]
    import_formats = [CSV]
    export_formats = [CSV]
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

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {"user": request.user}

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        kwargs.pop("request", None)
        kwargs["rollback_on_validation_errors"] = True
        return kwargs

    def has_import_permission(self, request):
        return request.user.has_perm("stores.change_storedishoverride")

    def has_export_permission(self, request):
        return self.has_view_permission(request)
