"""Admins of the brand-wide menu: categories, dishes (with CSV import and bulk override actions),
option groups, and the shared tags and allergens."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from config.api import DomainError
from config.net import client_ip

from .. import services
from ..models import Allergen, Dish, MenuCategory, Option, OptionGroup, Tag
from ..resources import DishResource
from .bulk import DishBulkActionsMixin
from .scoping import (
    BrandCodeModelForm,
    ScopedAdmin,
    ScopedCsvImportExportMixin,
    TenantScopedMixin,
    is_hq,
    save_brand_children,
)


class MenuServiceAdminMixin:
    """Saves of a brand-wide menu row go through its service (``service`` below).

    ``save_model`` does nothing; ``save_related`` makes one service call that saves the row,
    then (through a callback) its many-to-many links and inlines, then writes the audit event
    last, all in the admin's transaction. A refusal of the service answers 403 and rolls the
    whole save back.
    """

    def save_model(self, request, obj, form, change):
        """Nothing yet: ``save_related`` saves the row with its links and inlines in one service call."""

    def save_related(self, request, form, formsets, change):
        def save_related():
            form.save_m2m()
            for formset in formsets:
                self.save_formset(request, form, formset, change=change)

        try:
            self.save_through_service(request, form, formsets, change, save_related)
        except DomainError as error:
            raise PermissionDenied(error.message) from error

    def save_through_service(self, request, form, formsets, change, save_related):
        raise NotImplementedError


@admin.register(MenuCategory)
class MenuCategoryAdmin(MenuServiceAdminMixin, ScopedAdmin):
    form = BrandCodeModelForm
    brand_wide = True
    list_display = ("code", "name_zh", "name_en", "brand", "sort_order")
    list_select_related = ("brand",)
    list_filter = (("brand", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("code", "name_zh", "name_en")

    def save_through_service(self, request, form, formsets, change, save_related):
        services.category_save(
            actor=request.user, category=form.instance, changed=form.changed_data if change else (),
            save_related=save_related, ip=client_ip(request),
        )


@admin.register(Dish)
class DishAdmin(MenuServiceAdminMixin, DishBulkActionsMixin, ScopedCsvImportExportMixin, ScopedAdmin):
    form = BrandCodeModelForm
    brand_wide = True
    resource_classes = [DishResource]
    list_display = ("code", "name_zh", "name_en", "category", "price", "kcal", "is_set_meal", "is_active")
    list_select_related = ("category", "brand")
    list_filter = (
        ("category", admin.RelatedOnlyFieldListFilter), "tags", "allergens", "is_set_meal", "is_active",
    )
    search_fields = ("code", "name_zh", "name_en")
    filter_horizontal = ("tags", "allergens", "option_groups")
    actions = ("bulk_sold_out", "bulk_available", "bulk_price", "bulk_reset_stock")
    list_per_page = 100

    def has_import_permission(self, request):
        return is_hq(request) and request.user.has_perm("stores.add_dish")

    def has_export_permission(self, request):
        return self.has_view_permission(request)

    def save_through_service(self, request, form, formsets, change, save_related):
        services.dish_save(
            actor=request.user, dish=form.instance, changed=form.changed_data if change else (),
            save_related=save_related, ip=client_ip(request),
        )


@admin.register(OptionGroup)
class OptionGroupAdmin(MenuServiceAdminMixin, ScopedAdmin):
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

    def save_through_service(self, request, form, formsets, change, save_related):
        changed = list(form.changed_data) if change else []
        if change and any(formset.has_changed() for formset in formsets):
            changed.append("options")
        services.option_group_save(
            actor=request.user, group=form.instance, changed=changed,
            save_children=lambda group: save_related(), ip=client_ip(request),
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is Option:
            save_brand_children(formset, parent=form.instance, parent_field="group")
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
