"""Replenishment suggestions: forecast demand against stock, and applying them to a store.

For one store and a forecast day (tomorrow by default, or another of the forecast days), each
dish gets a suggested daily stock: the forecast portions plus a safety margin, rounded up. The
margin is the dish's measured backtest WAPE (how far off the forecast has been), kept between
10% and 50%; 20% when there is nothing to measure yet. A dish forecast to sell nothing gets no
suggestion (its stock is left as it is).

Beside it: the store's current stock (portions left today, empty = unlimited) and daily stock
(what the nightly restore puts back). Applying a suggestion sets the dish's **daily stock**
through ``stores.services.store_save`` (permission, scope, locking, history and one audit event
per dish are the stores services'): it takes effect at the next nightly restore and never
touches today's remaining stock, which orders are taking from right now.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_lazy as _

from stores.models import Dish, Store, StoreDishOverride
from stores.services import MAX_STOCK, InvalidOverrideValue, OverrideEdit, store_save

from .forecast import DishForecast, portions, store_forecasts

SAFETY_MIN, SAFETY_MAX, SAFETY_DEFAULT = 0.10, 0.50, 0.20


def safety_margin(wape: float | None) -> float:
    """The share added to the forecast: its measured error, within 10%..50% (20% unmeasured)."""
    if wape is None:
        return SAFETY_DEFAULT
    return min(max(wape, SAFETY_MIN), SAFETY_MAX)


def suggested_stock(demand: float, wape: float | None) -> int:
    """Portions to stock for a day with ``demand`` forecast portions (0 when none are expected)."""
    if demand <= 0:
        return 0
    # round() first: 10.0 * 1.2 is 12.000000000000002 in floating point, which must stay 12.
    return math.ceil(round(demand * (1 + safety_margin(wape)), 6))


@dataclass
class Suggestion:
    dish: Dish
    forecast: DishForecast | None
    day: date | None
    demand: float  # forecast portions on ``day``
    suggested: int | None  # None: nothing to suggest (no demand forecast)
    stock: int | None  # portions left today (None: unlimited)
    daily_stock: int | None  # restored every night (None: not restored)

    @property
    def change(self) -> int | None:
        """How the suggestion differs from the daily stock (None when there is none to compare)."""
        if self.suggested is None or self.daily_stock is None:
            return None
        return self.suggested - self.daily_stock

    @property
    def applies(self) -> bool:
        """Whether applying would change anything."""
        return self.suggested is not None and self.suggested != self.daily_stock

    @property
    def short_today(self) -> bool:
        """Today's remaining stock is below the forecast demand of the day."""
        return self.stock is not None and self.demand > self.stock


def store_suggestions(store: Store, *, day_index: int = 0, today: date | None = None, horizon: int = 7):
    """Forecasts and suggestions for every dish of the store's brand that is on the menu or sold
    in the history window, in menu order. ``day_index`` picks the forecast day (0 = tomorrow)."""
    forecasts = store_forecasts(store, today=today, horizon=horizon)
    overrides = {o.dish_id: o for o in StoreDishOverride.objects.filter(store=store)}
    dishes = list(Dish.objects.filter(brand_id=store.brand_id).select_related("category"))
    rows = []
    for dish in dishes:
        forecast = forecasts.get(dish.code)
        if not dish.is_active and forecast is None:
            continue
        override = overrides.get(dish.pk)
        day, demand, suggested = None, 0.0, None
        if forecast is not None and 0 <= day_index < len(forecast.days):
            day, demand = forecast.days[day_index], forecast.values[day_index]
            if portions(demand) > 0:
                suggested = suggested_stock(demand, forecast.wape)
        rows.append(Suggestion(
            dish=dish, forecast=forecast, day=day, demand=demand, suggested=suggested,
            stock=override.stock if override else None, daily_stock=override.daily_stock if override else None,
        ))
    return rows


def replenishment_apply(*, actor, store: Store, quantities: dict[int, int], ip: str | None = None) -> int:
    """Set the daily stock of dishes (``{dish id: portions}``) of one store; returns how many
    overrides changed. Goes through ``stores.services.store_save``: the actor must be allowed to
    change the store (HQ: their brand's stores, store managers: theirs), every change is
    recorded (history and an audit event per dish), and nothing changes if any value is refused.
    """
    if not quantities:
        raise InvalidOverrideValue(_("Pick at least one dish."))
    for value in quantities.values():
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STOCK:
            raise InvalidOverrideValue(_("A daily stock must be a whole number of portions, 0 or more."))
    dishes = {d.pk: d for d in Dish.objects.filter(pk__in=list(quantities), brand_id=store.brand_id)}
    if len(dishes) != len(quantities):
        raise InvalidOverrideValue(_("Unknown dish."))
    before = {
        o.dish_id: o.daily_stock
        for o in StoreDishOverride.objects.filter(store=store, dish_id__in=list(quantities))
    }
    edits = [
        OverrideEdit(values={"daily_stock": value}, dish=dishes[dish_id])
        for dish_id, value in sorted(quantities.items())
    ]
    store_save(actor=actor, store=store, changed=[], overrides=edits, ip=ip)
    return sum(1 for dish_id, value in quantities.items() if before.get(dish_id, "missing") != value)
