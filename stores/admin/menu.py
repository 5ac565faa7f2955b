"""Admins of the brand-wide menu: categories, dishes (with CSV import and bulk override actions),
option groups, and the shared tags and allergens."""

from __future__ import annotations

from django.contrib import admin

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


@admin.register(MenuCategory)
class MenuCategoryAdmin(ScopedAdmin):
    form = BrandCodeModelForm
    brand_wide = True
    list_display = ("code", "name_zh", "name_en", "brand", "sort_order")
    list_select_related = ("brand",)
    list_filter = (("brand", admin.RelatedOnlyFieldListFilter),)
    search_fields = ("code", "name_zh", "name_en")


@admin.register(Dish)
class DishAdmin(DishBulkActionsMixin, ScopedCsvImportExportMixin, ScopedAdmin):
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
