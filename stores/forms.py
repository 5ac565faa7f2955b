"""Admin forms: the intermediate pages of the bulk override actions, and tenant-aware model forms."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Dish, MenuCategory, StoreDishOverride
from .selectors import stores_for_user

BULK_KINDS = {
    "sold_out": _("Mark sold out"),
    "available": _("Mark available"),
    "price": _("Set store price"),
    "reset_stock": _("Reset stock to the daily stock"),
}


class PriceFieldMixin:
    def _add_price(self):
        self.fields["price"] = forms.DecimalField(
            label=_("Store price"), required=False, min_value=0, max_digits=12, decimal_places=2,
            help_text=_("Leave empty to go back to the brand price."),
        )


class StorePickForm(PriceFieldMixin, forms.Form):
    """On the dish changelist: in which stores (of the dishes' brand) to apply the action."""

    stores = forms.ModelMultipleChoiceField(
        label=_("Stores"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    cities = forms.MultipleChoiceField(
        label=_("All my stores in"), choices=(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, user, brand_id: int, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.store_qs = stores_for_user(user).filter(brand_id=brand_id).order_by("city", "code")
        self.fields["stores"].queryset = self.store_qs
        cities = sorted(set(self.store_qs.values_list("city", flat=True)))
        self.fields["cities"].choices = [(city, _("All my stores in %(city)s") % {"city": city}) for city in cities]
        if kind == "price":
            self._add_price()

    def clean(self):
        cleaned = super().clean()
        picked = list(cleaned.get("stores") or [])
        cities = cleaned.get("cities") or []
        if cities:
            picked += list(self.store_qs.filter(city__in=cities))
        unique = {store.pk: store for store in picked}
        if not unique and not self.errors:
            raise forms.ValidationError(_("Pick at least one store or city."))
        cleaned["store_list"] = [unique[pk] for pk in sorted(unique)]
        return cleaned


class DishPickForm(PriceFieldMixin, forms.Form):
    """On the store changelist: which dishes of the stores' brand the action applies to."""

    dishes = forms.ModelMultipleChoiceField(
        label=_("Dishes"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    categories = forms.ModelMultipleChoiceField(
        label=_("All dishes of the categories"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, brand_id: int, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.dish_qs = Dish.objects.filter(brand_id=brand_id).select_related("category")
        self.fields["dishes"].queryset = self.dish_qs
        self.fields["categories"].queryset = MenuCategory.objects.filter(brand_id=brand_id)
        if kind == "price":
            self._add_price()
        if kind == "reset_stock":
            self.fields["dishes"].help_text = _("Pick none to reset every dish with a daily stock.")

    def clean(self):
        cleaned = super().clean()
        picked = list(cleaned.get("dishes") or [])
        categories = cleaned.get("categories") or []
        if categories:
            picked += list(self.dish_qs.filter(category__in=categories))
        unique = {dish.pk: dish for dish in picked}
        if not unique and self.kind != "reset_stock" and not self.errors:
            raise forms.ValidationError(_("Pick at least one dish or category."))
        cleaned["dish_list"] = [unique[pk] for pk in sorted(unique)] if unique else None
        return cleaned


class BrandCodeForm(forms.ModelForm):
    """Model form for rows with a code unique within their brand, where the brand is not a form
    field for non-superusers: the admin presets ``instance.brand_id``; uniqueness is checked here
    so that a duplicate is a form error, not a database error."""

    default_brand_id: int | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None and self.instance.brand_id is None and self.default_brand_id:
            self.instance.brand_id = self.default_brand_id

    def clean(self):
        cleaned = super().clean()
        code = cleaned.get("code")
        brand = cleaned.get("brand")
        if brand is not None and self.instance.pk is not None and brand.pk != self.instance.brand_id:
            # The admin shows the brand read-only once a row exists; refuse a forged one too.
            self.add_error("brand", _("The brand cannot be changed once the row exists."))
            brand = None
        brand_id = brand.pk if brand is not None else self.instance.brand_id
        if code and brand_id:
            clash = type(self.instance).objects.filter(brand_id=brand_id, code=code).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("code", _("This code is already used in the brand."))
        category = cleaned.get("category")
        if category is not None and brand_id and category.brand_id != brand_id:
            self.add_error("category", _("Pick a category of the same brand."))
        groups = cleaned.get("option_groups")
        if groups is not None and brand_id and any(group.brand_id != brand_id for group in groups):
            self.add_error("option_groups", _("Pick option groups of the same brand."))
        return cleaned


class OverrideAdminForm(forms.ModelForm):
    class Meta:
        model = StoreDishOverride
        fields = ("store", "dish", "price", "is_available", "stock", "daily_stock")

    def clean(self):
        cleaned = super().clean()
        store = cleaned.get("store") or (self.instance.store if self.instance.store_id else None)
        dish = cleaned.get("dish") or (self.instance.dish if self.instance.dish_id else None)
        if store is not None and dish is not None and store.brand_id != dish.brand_id:
            self.add_error("dish", _("Pick a dish of the store's brand."))
        return cleaned


class OverrideInlineFormSet(forms.BaseInlineFormSet):
    """The overrides of one store: every dish must be of the store's brand."""

    def clean(self):
        super().clean()
        brand_id = self.instance.brand_id
        for form in self.forms:
            dish = getattr(form, "cleaned_data", {}).get("dish")
            if dish is not None and brand_id and dish.brand_id != brand_id:
                form.add_error("dish", _("Pick a dish of the store's brand."))
