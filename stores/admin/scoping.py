"""Tenant scoping of the admins: rows, choices and permissions limited to the user's brand or
stores, and history pages without "Revert"."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV
from simple_history.admin import SimpleHistoryAdmin

from ..forms import BrandCodeForm
from ..models import Brand, Store
from ..selectors import brand_ids_visible_to, store_ids_visible_to, user_manages_whole_brand


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


class ScopedCsvImportExportMixin(ImportExportMixin):
    """CSV import/export whose resources know the user (so they keep to the user's scope) and
    whose imports roll back the whole file when any row is bad."""

    import_formats = [CSV]
    export_formats = [CSV]

    def get_resource_kwargs(self, request, *args, **kwargs):
        return {"user": request.user}

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        kwargs.pop("request", None)
        kwargs["rollback_on_validation_errors"] = True
        return kwargs


def save_brand_children(formset, *, parent, parent_field: str) -> None:
    """Save an inline of child rows (opening hours, options) that carry their parent's brand."""
    instances = formset.save(commit=False)
    for obj in formset.deleted_objects:
        obj.delete()
    for child in instances:
        child.brand_id = parent.brand_id
        setattr(child, parent_field, parent)
        child.save()
