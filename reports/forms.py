"""The filter every report page shares: brand (superusers), date range and stores."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django import forms
from django.utils.translation import gettext_lazy as _

from stores.models import Brand, Store
from stores.selectors import local_now

from .access import ReportAccess

MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30


@dataclass(frozen=True)
class ReportFilter:
    """A validated filter: the brand, the days (inclusive) and the stores to count."""

    brand: Brand
    start: date
    end: date
    store_ids: frozenset[int]  # never empty; always within what the user may see
    all_stores: bool  # every store the user may see (no store picked)
    whole_brand: bool = False  # store_ids are every store of the brand (brand-wide rollups apply)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


class ReportFilterForm(forms.Form):
    """Bound to GET data. An empty form means: the user's first brand, the last 30 days to today,
    all the stores they may see. Bad input gives form errors, never a 500."""

    brand = forms.ModelChoiceField(queryset=Brand.objects.none(), required=False, label=_("Brand"))
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    stores = forms.ModelMultipleChoiceField(
        queryset=Store.objects.none(), required=False, label=_("Stores"),
        help_text=_("None picked: all your stores."),
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )

    def __init__(self, data=None, *, access: ReportAccess, today: date | None = None, **kwargs):
        super().__init__(data, **kwargs)
        self.access = access
        self.today = today or local_now().date()
        brands = access.brands()
        self.fields["brand"].queryset = brands
        self.show_brand = brands.count() > 1
        self.brand = self._pick_brand(brands)
        self.fields["stores"].queryset = (
            access.stores(self.brand.pk) if self.brand is not None else Store.objects.none()
        )
        self.initial.setdefault("start", self.today - timedelta(days=DEFAULT_RANGE_DAYS - 1))
        self.initial.setdefault("end", self.today)
        if self.brand is not None:
            self.initial.setdefault("brand", self.brand.pk)

    def _pick_brand(self, brands) -> Brand | None:
        raw = (self.data or {}).get("brand") if self.is_bound else None
        if raw:
            try:
                picked = brands.filter(pk=int(raw)).first()
            except (TypeError, ValueError):
                picked = None
            if picked is not None:
                return picked
        return brands.first()

    def clean(self):
        data = super().clean()
        if self.brand is None:
            raise forms.ValidationError(_("You have no brand to report on."))
        start = data.get("start") or self.initial["start"]
        end = data.get("end") or self.initial["end"]
        if "start" in self.errors or "end" in self.errors:
            return data
        if start > end:
            self.add_error("end", _("The end date must not be before the start date."))
        elif (end - start).days + 1 > MAX_RANGE_DAYS:
            self.add_error("end", _("Choose at most %(days)d days.") % {"days": MAX_RANGE_DAYS})
        data["start"], data["end"] = start, end
        return data

    def report_filter(self) -> ReportFilter:
        """The validated filter (call after ``is_valid()``)."""
        data = self.cleaned_data
        picked = data.get("stores")
        if picked:
            store_ids = frozenset(store.pk for store in picked)
        else:
            store_ids = frozenset(self.access.store_ids_for(self.brand.pk))
        brand_stores = Store.objects.filter(brand_id=self.brand.pk).count()
        return ReportFilter(
            brand=self.brand, start=data["start"], end=data["end"], store_ids=store_ids, all_stores=not picked,
            whole_brand=len(store_ids) == brand_stores,
        )


def report_filter_from_request(request, access: ReportAccess) -> tuple[ReportFilterForm, ReportFilter | None]:
    """The form bound to the query string (or unbound defaults) and its filter, ``None`` if invalid."""
    params = request.GET
    form = ReportFilterForm(
        params if any(key in params for key in ("brand", "start", "end", "stores")) else {}, access=access
    )
    if not form.is_valid():
        return form, None
    return form, form.report_filter()
