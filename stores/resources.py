"""CSV import/export of dishes and store prices (django-import-export 4.x).

Both resources are scoped to the importing user: dishes go into the user's own brand (never
one named in the file), store prices only into stores the user manages, for dishes of that
store's brand. Every bad row is reported with its line and field, and nothing is applied when
any row is bad: ``import_data`` always runs in a transaction that is rolled back on any error
or validation error.

Store prices follow the services' rules: the stores of the file are locked first (pk order,
as ``override_set`` does), a row that changes a price needs ``stores.set_store_price``, and
the audit event is written last (``after_import``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from config.api import DomainError

from .models import Allergen, Dish, MenuCategory, Store, StoreDishOverride, Tag
from .selectors import stores_for_user
from .services import brand_for_import, check_stores_allowed, import_record, may_set_price

TRUE_WORDS = {"1", "true", "yes", "y", "是"}
FALSE_WORDS = {"0", "false", "no", "n", "否"}


def _text(value) -> str:
    return "" if value is None else str(value).strip()


class StrictDecimalWidget(widgets.DecimalWidget):
    """A decimal, or None when empty; anything else is a row error, never a crash."""

    def clean(self, value, row=None, **kwargs):
        text = _text(value)
        if not text:
            return None
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):
            raise ValueError(_("“%(value)s” is not a number.") % {"value": text}) from None
        if not number.is_finite():
            raise ValueError(_("“%(value)s” is not a number.") % {"value": text})
        return number


class StrictIntegerWidget(widgets.IntegerWidget):
    """A whole number >= 0, or None when empty."""

    def clean(self, value, row=None, **kwargs):
        text = _text(value)
        if not text:
            return None
        if not text.isdigit() or len(text) > 10:
            raise ValueError(_("“%(value)s” is not a whole number of 0 or more.") % {"value": text})
        return int(text)


class StrictBooleanWidget(widgets.BooleanWidget):
    """1/0, true/false, yes/no; None when empty; anything else is a row error."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, bool):
            return value
        text = _text(value).lower()
        if not text:
            return None
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        raise ValueError(_("“%(value)s” is not yes/no (use 1 or 0).") % {"value": _text(value)})


class CodesWidget(widgets.ManyToManyWidget):
    """Comma-separated codes of a vocabulary (tags, allergens); an unknown code is a row error."""

    def clean(self, value, row=None, **kwargs):
        codes = [c.strip() for c in _text(value).split(self.separator) if c.strip()]
        found = list(self.model.objects.filter(code__in=codes))
        unknown = sorted(set(codes) - {obj.code for obj in found})
        if unknown:
            raise ValueError(_("Unknown code: %(codes)s.") % {"codes": ", ".join(unknown)})
        return found

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return self.separator.join(sorted(item.code for item in value.all()))


class CategoryCodeWidget(widgets.ForeignKeyWidget):
    """A menu category of the importing brand, by code."""

    def __init__(self, **kwargs):
        super().__init__(MenuCategory, field="code", **kwargs)
        self.brand_id = None

    def get_queryset(self, value, row, *args, **kwargs):
        return MenuCategory.objects.filter(brand_id=self.brand_id)

    def clean(self, value, row=None, **kwargs):
        text = _text(value)
        if not text:
            raise ValueError(_("A category code is required."))
        category = self.get_queryset(text, row).filter(code=text).first()
        if category is None:
            raise ValueError(_("No category with code “%(code)s” in your brand.") % {"code": text})
        return category


class ScopedImportMixin:
    """All-or-nothing imports by a known user, with one audit event on a real import."""

    audit_action = ""

    def __init__(self, user=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user

    def import_data(self, dataset, dry_run=False, raise_errors=False, use_transactions=None,
                    collect_failed_rows=False, rollback_on_validation_errors=False, **kwargs):
        # Nothing is applied when any row is bad, whatever the caller asked for.
        kwargs.setdefault("user", self.user)
        self.user = kwargs["user"]
        return super().import_data(
            dataset, dry_run=dry_run, raise_errors=raise_errors, use_transactions=True,
            collect_failed_rows=collect_failed_rows, rollback_on_validation_errors=True, **kwargs,
        )

    def before_import(self, dataset, **kwargs):
        self._ready = False
        super().before_import(dataset, **kwargs)
        if self.user is None or not self.user.is_authenticated:
            raise DomainError(_("Log in to import."), code="not_authenticated", status_code=401)
        self.prepare_scope(dataset)
        self._seen_keys = set()
        self._ready = True

    def prepare_scope(self, dataset):
        raise NotImplementedError

    def import_row(self, row, instance_loader, **kwargs):
        if not getattr(self, "_ready", False):
            # The import as a whole was refused (reported once as a base error): touch no row.
            row_result = self.get_row_result_class()()
            row_result.import_type = row_result.IMPORT_TYPE_SKIP
            return row_result
        try:
            self.check_row(row)
        except ValidationError as error:
            row_result = self.get_row_result_class()()
            row_result.import_type = row_result.IMPORT_TYPE_INVALID
            row_result.validation_error = error
            return row_result
        return super().import_row(row, instance_loader, **kwargs)

    def check_row(self, row):
        """Row-level checks before any field is read (scope, duplicates)."""

    def import_instance(self, instance, row, **kwargs):
        """Read the fields, then the resource's own checks; every problem is one row error."""
        errors = {}
        try:
            super().import_instance(instance, row, **kwargs)
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        self.check_instance(instance, row, errors, **kwargs)
        if errors:
            raise ValidationError(errors)

    def check_instance(self, instance, row, errors: dict, **kwargs) -> None:
        """Checks once the fields are read; add to ``errors`` (field name -> ValidationError)."""

    def before_save_instance(self, instance, row, **kwargs):
        super().before_save_instance(instance, row, **kwargs)
        instance._history_user = self.user

    def after_import(self, dataset, result, **kwargs):
        super().after_import(dataset, result, **kwargs)
        if kwargs.get("dry_run") or result.has_errors() or result.has_validation_errors():
            return
        counts = {key: value for key, value in result.totals.items() if value}
        counts["rows"] = result.total_rows
        import_record(
            actor=self.user, action=self.audit_action, brand_ids=self.audit_brand_ids(result),
            counts={**counts, **self.audit_extra(result)},
        )

    def audit_brand_ids(self, result) -> set[int]:
        raise NotImplementedError

    def audit_extra(self, result) -> dict:
        return {}


class DishResource(ScopedImportMixin, resources.ModelResource):
    audit_action = "dishes.imported"

    code = fields.Field(attribute="code", column_name="code", widget=widgets.CharWidget())
    category = fields.Field(attribute="category", column_name="category", widget=CategoryCodeWidget())
    price = fields.Field(attribute="price", column_name="price", widget=StrictDecimalWidget())
    kcal = fields.Field(attribute="kcal", column_name="kcal", widget=StrictIntegerWidget(), default=0)
    protein_g = fields.Field(attribute="protein_g", column_name="protein_g", widget=StrictDecimalWidget(),
                             default=Decimal("0"))
    fat_g = fields.Field(attribute="fat_g", column_name="fat_g", widget=StrictDecimalWidget(), default=Decimal("0"))
    carbs_g = fields.Field(attribute="carbs_g", column_name="carbs_g", widget=StrictDecimalWidget(),
                           default=Decimal("0"))
    tags = fields.Field(attribute="tags", column_name="tags", widget=CodesWidget(Tag, field="code"))
    allergens = fields.Field(attribute="allergens", column_name="allergens", widget=CodesWidget(Allergen, field="code"))
    is_set_meal = fields.Field(attribute="is_set_meal", column_name="is_set_meal", widget=StrictBooleanWidget(),
                               default=False)
    is_active = fields.Field(attribute="is_active", column_name="is_active", widget=StrictBooleanWidget(),
                             default=True)

    class Meta:
        model = Dish
        name = _("Dishes")
        fields = (
            "code", "category", "name_zh", "name_en", "description_zh", "description_en", "price",
            "kcal", "protein_g", "fat_g", "carbs_g", "tags", "allergens", "is_set_meal", "is_active",
        )
        export_order = fields
        import_id_fields = ("code",)
        clean_model_instances = True
        skip_unchanged = False
        use_transactions = True

    def prepare_scope(self, dataset):
        self.brand_id = brand_for_import(self.user)
        self.fields["category"].widget.brand_id = self.brand_id

    def get_queryset(self):
        brand_id = getattr(self, "brand_id", None)
        return Dish.objects.filter(brand_id=brand_id).select_related("category")

    def init_instance(self, row=None):
        return Dish(brand_id=self.brand_id)

    def check_row(self, row):
        code = _text(row.get("code"))
        if not code:
            raise ValidationError({"code": _("A dish code is required.")})
        if code in self._seen_keys:
            raise ValidationError({"code": _("Dish “%(code)s” appears more than once in the file.") % {"code": code}})
        self._seen_keys.add(code)

    def check_instance(self, instance, row, errors: dict, **kwargs) -> None:
        # Many-to-many values are only written after save: check them now so a bad code
        # is a row error like any other.
        for field in self.get_import_fields():
            if isinstance(field.widget, widgets.ManyToManyWidget) and field.column_name in row:
                try:
                    field.clean(row, **kwargs)
                except ValueError as error:
                    errors[field.attribute] = ValidationError(str(error), code="invalid")

    def audit_brand_ids(self, result):
        return {self.brand_id}


class StorePriceResource(ScopedImportMixin, resources.ModelResource):
    """One row per store and dish: store price (empty = brand price), available, stock, daily stock."""

    audit_action = "store_prices.imported"

    store_code = fields.Field(attribute="store__code", column_name="store_code", readonly=True)
    dish_code = fields.Field(attribute="dish__code", column_name="dish_code", readonly=True)
    price = fields.Field(attribute="price", column_name="price", widget=StrictDecimalWidget())
    available = fields.Field(attribute="is_available", column_name="available", widget=StrictBooleanWidget(),
                             default=True)
    stock = fields.Field(attribute="stock", column_name="stock", widget=StrictIntegerWidget())
    daily_stock = fields.Field(attribute="daily_stock", column_name="daily_stock", widget=StrictIntegerWidget())

    class Meta:
        model = StoreDishOverride
        name = _("Store prices")
        fields = ("store_code", "dish_code", "price", "available", "stock", "daily_stock")
        export_order = fields
        import_id_fields = ("store_code", "dish_code")
        clean_model_instances = True
        skip_unchanged = False
        use_transactions = True

    def prepare_scope(self, dataset):
        if not self.user.has_perm("stores.change_storedishoverride"):
            raise DomainError(_("You may not change store prices."), code="not_yours", status_code=403)
        self._may_set_price = may_set_price(self.user)
        self._stores = {store.code: store for store in stores_for_user(self.user)}
        # The stores of the file, locked in pk order for the whole import (inside its transaction).
        codes = {_text(code) for code in dataset["store_code"]} if "store_code" in (dataset.headers or []) else set()
        wanted = sorted(self._stores[code].pk for code in codes if code in self._stores)
        list(Store.objects.select_for_update().filter(pk__in=wanted).order_by("pk").values_list("pk", flat=True))
        brand_ids = {store.brand_id for store in self._stores.values()}
        self._dishes = {
            (dish.brand_id, dish.code): dish
            for dish in Dish.objects.filter(brand_id__in=brand_ids).only("id", "brand_id", "code", "price")
        }
        self._touched_brands: set[int] = set()
        self._touched_stores: set[str] = set()

    def get_queryset(self):
        return StoreDishOverride.objects.select_related("store", "dish")

    def _resolve(self, row) -> tuple[Store, Dish]:
        store_code, dish_code = _text(row.get("store_code")), _text(row.get("dish_code"))
        store = self._stores.get(store_code)
        if store is None:
            raise ValidationError(
                {"store_code": _("“%(code)s” is not one of your stores.") % {"code": store_code}}
            )
        dish = self._dishes.get((store.brand_id, dish_code))
        if dish is None:
            raise ValidationError(
                {"dish_code": _("No dish “%(code)s” in the menu of store %(store)s.")
                 % {"code": dish_code, "store": store.code}}
            )
        return store, dish

    def check_row(self, row):
        store, dish = self._resolve(row)
        key = (store.pk, dish.pk)
        if key in self._seen_keys:
            raise ValidationError(
                {"dish_code": _("Store %(store)s, dish %(dish)s appears more than once in the file.")
                 % {"store": store.code, "dish": dish.code}}
            )
        self._seen_keys.add(key)

    def get_instance(self, instance_loader, row):
        store, dish = self._resolve(row)
        instance = StoreDishOverride.objects.select_related("store", "dish").filter(store=store, dish=dish).first()
        if instance is not None:
            instance._price_before_import = instance.price
        return instance

    def check_instance(self, instance, row, errors: dict, **kwargs) -> None:
        before = getattr(instance, "_price_before_import", None)
        if "price" not in errors and instance.price != before and not self._may_set_price:
            errors["price"] = ValidationError(_("You may not change store prices."), code="not_allowed")

    def init_instance(self, row=None):
        store, dish = self._resolve(row)
        return StoreDishOverride(brand_id=store.brand_id, store=store, dish=dish)

    def before_save_instance(self, instance, row, **kwargs):
        # Defence in depth: the row was resolved within the user's stores; check again.
        check_stores_allowed(self.user, [instance.store])
        super().before_save_instance(instance, row, **kwargs)
        self._touched_brands.add(instance.brand_id)
        self._touched_stores.add(instance.store.code)

    def audit_brand_ids(self, result):
        return self._touched_brands

    def audit_extra(self, result):
        return {"stores": sorted(self._touched_stores)}
