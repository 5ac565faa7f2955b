"""The demand forecast page (per store: dishes over the next 3-7 days, their measured error against
the seasonal-naive baseline, replenishment suggestions) and applying suggestions to the store.

HQ managers pick any store of their brand, store managers one of theirs (``reports.access``).
The page's table is also a CSV download (``forecast_csv``, same parameters and access).
Applying goes through a confirmation page, then ``reports.replenishment.replenishment_apply``
(the stores services: permission, history, audit).
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext
from django.views.decorators.http import require_GET, require_POST

from config.api import DomainError
from config.net import client_ip
from stores.models import Brand, Dish, Store
from stores.selectors import local_now

from .access import ReportAccess, report_access
from .charts import bar_chart
from .forecast import MAX_HORIZON, MIN_HORIZON, ErrorTally, Model, portions, store_dish_histories
from .pages import page_context
from .replenishment import replenishment_apply, store_suggestions
from .views import csv_response, form_errors_response

MODEL_LABELS = {
    Model.HOLT_WINTERS: gettext_lazy("Holt-Winters"),
    Model.WEEKDAY_PROFILE: gettext_lazy("Weekday profile"),
    Model.RECENT_MEAN: gettext_lazy("Recent mean"),
    Model.ZERO: gettext_lazy("No recent sales"),
}
PAST_DAYS_IN_CHART = 14


class ForecastForm(forms.Form):
    """GET parameters of the forecast page; empty means the first brand and store, 7 days, tomorrow."""

    brand = forms.ModelChoiceField(queryset=Brand.objects.none(), required=False, label=gettext_lazy("Brand"))
    store = forms.ModelChoiceField(
        queryset=Store.objects.none(), required=False, to_field_name="code", label=gettext_lazy("Store")
    )
    horizon = forms.TypedChoiceField(
        choices=[(n, n) for n in range(MIN_HORIZON, MAX_HORIZON + 1)], coerce=int, required=False,
        empty_value=MAX_HORIZON, label=gettext_lazy("Days ahead"),
    )
    day = forms.TypedChoiceField(
        choices=[(n, n) for n in range(1, MAX_HORIZON + 1)], coerce=int, required=False, empty_value=1,
        label=gettext_lazy("Stock for day"), help_text=gettext_lazy("1 = tomorrow"),
    )

    def __init__(self, data=None, *, access: ReportAccess, **kwargs):
        super().__init__(data, **kwargs)
        brands = access.brands()
        self.fields["brand"].queryset = brands
        self.show_brand = brands.count() > 1
        brand = None
        if data and data.get("brand"):
            brand = brands.filter(pk=data.get("brand")).first() if str(data.get("brand")).isdigit() else None
        self.brand = brand or brands.first()
        self.fields["store"].queryset = access.stores(self.brand.pk) if self.brand else Store.objects.none()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("day") and cleaned.get("horizon") and cleaned["day"] > cleaned["horizon"]:
            self.add_error("day", _("Pick a day within the days ahead."))
        return cleaned


def _store_summary(suggestions) -> dict:
    """The store's pooled backtest: every dish's errors summed (model and baseline)."""
    model, baseline = ErrorTally(), ErrorTally()
    beaten = measured = 0
    counts: dict[str, int] = {}
    for row in suggestions:
        f = row.forecast
        if f is None:
            continue
        counts[f.model] = counts.get(f.model, 0) + 1
        if f.wape is not None and f.baseline_wape is not None:
            measured += 1
            beaten += int(f.wape <= f.baseline_wape)
    for row in suggestions:
        f = row.forecast
        if f is not None and f.wape is not None and f.baseline_wape is not None:
            # WAPE x actual = absolute error: pooled over dishes, weighted by what they sold.
            model.abs_error += f.wape * f.backtest_actual
            baseline.abs_error += f.baseline_wape * f.backtest_actual
            model.actual += f.backtest_actual
            baseline.actual += f.backtest_actual
    return {
        "wape": model.wape, "baseline_wape": baseline.wape, "beaten": beaten, "measured": measured,
        "models": [(MODEL_LABELS.get(k, k), n) for k, n in sorted(counts.items())],
    }


def _chart(store: Store, suggestions, days, today):
    """Portions per day, all dishes: the last two weeks sold, then the forecast (marked *)."""
    end = today - timedelta(days=1)
    histories = store_dish_histories([store.pk], end=end, days=PAST_DAYS_IN_CHART)
    sold = [0.0] * PAST_DAYS_IN_CHART
    for (_store_id, _code), (first, values) in histories.items():
        offset = (first - (end - timedelta(days=PAST_DAYS_IN_CHART - 1))).days
        for i, value in enumerate(values):
            sold[offset + i] += value
    points = [
        (date_format(end - timedelta(days=PAST_DAYS_IN_CHART - 1 - i), "m-d"), int(value))
        for i, value in enumerate(sold)
    ]
    for i, day in enumerate(days):
        total = sum(row.forecast.values[i] for row in suggestions if row.forecast is not None)
        points.append((date_format(day, "m-d") + "*", portions(total)))
    return bar_chart(points, title=_("Portions per day: sold in the last two weeks, then forecast (*)"))


def _forecast_input(request, access: ReportAccess):
    """The form, and the store, horizon and stock day it asks for (``store`` None: no store)."""
    form = ForecastForm(request.GET or None, access=access)
    if request.GET and not form.is_valid():
        return form, None, None, None
    cleaned = form.cleaned_data if request.GET else {}
    store = cleaned.get("store") or form.fields["store"].queryset.first()
    return form, store, cleaned.get("horizon") or MAX_HORIZON, cleaned.get("day") or 1


def _forecast_rows(store: Store, *, horizon: int, day: int, today):
    """The store's suggestions, the forecast days, and one table row per dish (most sold first)."""
    suggestions = store_suggestions(store, day_index=day - 1, today=today)
    days = [today + timedelta(days=1 + i) for i in range(horizon)]
    rows = [
        {
            "s": row,
            "values": [portions(v) for v in row.forecast.values[:horizon]] if row.forecast else [0] * horizon,
            "model_label": MODEL_LABELS.get(row.forecast.model, "") if row.forecast else MODEL_LABELS[Model.ZERO],
        }
        for row in suggestions
    ]
    rows.sort(key=lambda r: (-(r["s"].forecast.sold_last_week if r["s"].forecast else 0), r["s"].dish.code))
    return suggestions, days, rows


@login_required(login_url="admin:login")
@require_GET
def forecast(request):
    access = report_access(request.user)
    form, store, horizon, day = _forecast_input(request, access)
    context = page_context(request, title=_("Demand forecast"), current="reports:forecast", form=form)
    if horizon is None:
        return render(request, "reports/forecast.html", context, status=400)
    context.update(store=store, horizon=horizon, day=day)
    if store is None:
        return render(request, "reports/forecast.html", context)
    today = local_now().date()
    suggestions, days, rows = _forecast_rows(store, horizon=horizon, day=day, today=today)
    context.update(
        rows=rows, days=days, stock_day=today + timedelta(days=day),
        summary=_store_summary(suggestions), chart=_chart(store, suggestions, days, today),
        to_apply=sum(1 for r in suggestions if r.applies),
    )
    return render(request, "reports/forecast.html", context)


def _wape_pct(value: float | None) -> str | None:
    return None if value is None else f"{value * 100:.1f}"


@login_required(login_url="admin:login")
@require_GET
def forecast_csv(request):
    """The forecast page's table as CSV: same parameters (brand, store, horizon, day), same access."""
    access = report_access(request.user)
    form, store, horizon, day = _forecast_input(request, access)
    if horizon is None:
        return form_errors_response(form)
    if store is None:
        raise Http404
    today = local_now().date()
    _suggestions, days, rows = _forecast_rows(store, horizon=horizon, day=day, today=today)
    stock_day = today + timedelta(days=day)

    def lines():
        yield [
            _("Dish code"), _("Dish"), _("Model"), _("WAPE (%)"), _("Baseline WAPE (%)"), _("Sold last 7 days"),
            *[_("Forecast %(day)s") % {"day": d.isoformat()} for d in days],
            _("Stock now (empty: unlimited)"), _("Daily stock"),
            _("Suggested daily stock for %(day)s") % {"day": stock_day.isoformat()},
            pgettext("stock forecast", "Change"),
        ]
        for row in rows:
            s, f = row["s"], row["s"].forecast
            yield [
                s.dish.code, s.dish.name, str(row["model_label"]), _wape_pct(f.wape if f else None),
                _wape_pct(f.baseline_wape if f else None), f.sold_last_week if f else 0, *row["values"],
                s.stock, s.daily_stock, s.suggested, s.change,
            ]

    filename = f"forecast-{store.brand.code}-{store.code}-{days[0]:%Y%m%d}-{days[-1]:%Y%m%d}.csv"
    return csv_response(filename, lines())


def _quantities(post) -> dict[int, int]:
    """``{dish id: portions}`` from the form: one row's button (``only``) or the ticked rows."""
    ids = [post.get("only")] if post.get("only") else post.getlist("dish")
    quantities = {}
    for raw in ids:
        value = post.get(f"qty_{raw}", "")
        if not str(raw).isdigit() or not str(value).isdigit():
            raise ValueError
        quantities[int(raw)] = int(value)
    return quantities


@login_required(login_url="admin:login")
@require_POST
def forecast_apply(request, store_code: str):
    """Confirm, then apply replenishment suggestions (daily stock) to one store."""
    access = report_access(request.user)
    store = get_object_or_404(Store, code=store_code)
    if not access.stores(store.brand_id).filter(pk=store.pk).exists():
        raise PermissionDenied
    back = reverse("reports:forecast") + "?" + urlencode({
        "store": store.code, "horizon": request.POST.get("horizon", MAX_HORIZON), "day": request.POST.get("day", 1),
        **({"brand": store.brand_id} if access.brand_ids is None or len(access.brand_ids) > 1 else {}),
    })
    context = page_context(request, title=_("Apply stock suggestions"), current="reports:forecast", store=store,
                           back=back, horizon=request.POST.get("horizon", ""), day=request.POST.get("day", ""))
    try:
        quantities = _quantities(request.POST)
    except ValueError:
        quantities = None
    if not quantities:
        context["error"] = _("Pick at least one dish with a whole number of portions.")
        return render(request, "reports/forecast_confirm.html", context, status=400)
    dishes = {d.pk: d for d in Dish.objects.filter(brand_id=store.brand_id, pk__in=list(quantities))}
    overrides = {o.dish_id: o for o in store.overrides.filter(dish_id__in=list(quantities))}
    context["changes"] = [
        {"dish": dishes.get(dish_id), "dish_id": dish_id, "to": value,
         "from": overrides[dish_id].daily_stock if dish_id in overrides else None}
        for dish_id, value in sorted(quantities.items())
    ]
    if len(dishes) != len(quantities):
        context["error"] = _("Unknown dish.")
        return render(request, "reports/forecast_confirm.html", context, status=400)
    if request.POST.get("confirm") != "yes":
        return render(request, "reports/forecast_confirm.html", context)
    try:
        changed = replenishment_apply(actor=request.user, store=store, quantities=quantities, ip=client_ip(request))
    except DomainError as error:
        if error.status_code == 403:
            raise PermissionDenied from error
        context["error"] = str(error.message)
        return render(request, "reports/forecast_confirm.html", context, status=400)
    messages.success(request, ngettext(
        "Daily stock set for %(count)d dish of %(store)s; it applies from the next nightly restore.",
        "Daily stock set for %(count)d dishes of %(store)s; it applies from the next nightly restore.",
        changed,
    ) % {"count": changed, "store": store.code})
    return HttpResponseRedirect(back)
