"""Demand forecast per store and dish: portions for the next 3 to 7 days, and how good it is.

The model, chosen per series and named on every result:

- ``holt_winters``: Holt-Winters exponential smoothing from statsmodels (``ExponentialSmoothing``)
  with an additive weekly season (period 7) and, from four weeks of history on, a damped additive
  trend (a trend that flattens out instead of running away over the horizon).
- ``weekday_profile``: the mean of the last four weeks times the dish's weekday factor (shrunk
  towards 1 so that a weekday seen a few times does not swing it). The simpler model: on short
  or noisy series it measures better than Holt-Winters, which then chases noise.
- ``recent_mean``: the mean of the last 7 days, flat, for less than two weeks of history.
- ``zero``: nothing sold in the last four weeks (or no history at all).

Intermittent dishes (more than 30% of days without a sale, or under two portions a day) get the
weekday profile. For the others both are fitted to the data before the last week, and the one that
forecast that week better makes the forecast (so only data before the forecast origin decides);
Holt-Winters falls back to the weekday profile when it cannot be fitted.

Its worth is measured, not assumed: ``backtest`` forecasts the last 14 days from two origins
(14 and 7 days before the end, 7 days ahead each, the way the forecast is used) with the same
model choice, and reports the WAPE (sum of absolute errors / sum of actual portions) beside the
WAPE of the seasonal-naive baseline (each day = the same weekday one week earlier) over the very
same days. Forecasts are statistics: floats, never money.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

SEASON = 7  # days: the weekly cycle
BACKTEST_DAYS = 14
BACKTEST_STEP = 7  # a new forecast origin every 7 days, each forecasting 7 days ahead
MIN_HORIZON, MAX_HORIZON = 3, 7
TRAINING_DAYS = 84  # a model is fitted to the last 12 weeks at most
HISTORY_WINDOW = TRAINING_DAYS + BACKTEST_DAYS + SEASON  # days read: training, backtest, model check
PROFILE_WEEKS = 4  # the weekday profile model: the last four weeks
PROFILE_SHRINK = 2.0  # pseudo-weeks pulling a weekday factor towards 1
MIN_SEASONAL_DAYS = 2 * SEASON  # Holt-Winters needs two full weeks
HEURISTIC_INIT_DAYS = 16
MIN_TREND_DAYS = 4 * SEASON  # ... and four before it also estimates a (damped) trend
INTERMITTENT_ZERO_SHARE = 0.3  # more than 30% of days without a sale ...
INTERMITTENT_MEAN = 2.0  # ... or under two portions a day: the weekday profile measures better


class Model:
    HOLT_WINTERS = "holt_winters"
    WEEKDAY_PROFILE = "weekday_profile"
    RECENT_MEAN = "recent_mean"
    ZERO = "zero"
    SEASONAL_NAIVE = "seasonal_naive"


# --- measures ---------------------------------------------------------------------------


def wape(actual: Sequence[float], predicted: Sequence[float]) -> float | None:
    """Weighted absolute percentage error: sum |actual - predicted| / sum |actual|.

    ``None`` when nothing was sold in the period (the ratio is undefined).
    """
    if len(actual) != len(predicted):
        raise ValueError("actual and predicted differ in length")
    total = float(sum(abs(a) for a in actual))
    if total == 0:
        return None
    return float(sum(abs(a - p) for a, p in zip(actual, predicted, strict=True))) / total


@dataclass
class ErrorTally:
    """Absolute errors and actuals summed over many series: their pooled WAPE."""

    abs_error: float = 0.0
    actual: float = 0.0

    def add(self, actual: Sequence[float], predicted: Sequence[float]) -> None:
        self.abs_error += float(sum(abs(a - p) for a, p in zip(actual, predicted, strict=True)))
        self.actual += float(sum(abs(a) for a in actual))

    @property
    def wape(self) -> float | None:
        return self.abs_error / self.actual if self.actual else None


# --- models -----------------------------------------------------------------------------


def seasonal_naive(history: Sequence[float], horizon: int) -> list[float]:
    """Each day as the same weekday of the last observed week (the baseline).

    With less than a week of history the mean of what there is, flat (no weekday known yet).
    """
    values = [float(v) for v in history]
    if not values:
        return [0.0] * horizon
    if len(values) < SEASON:
        mean = sum(values) / len(values)
        return [mean] * horizon
    last_week = values[-SEASON:]
    return [last_week[h % SEASON] for h in range(horizon)]


def _recent_mean(values: np.ndarray, horizon: int) -> list[float]:
    recent = values[-SEASON:]
    return [float(recent.mean())] * horizon


def _weekday_profile(values: np.ndarray, horizon: int) -> list[float]:
    window = values[-PROFILE_WEEKS * SEASON:]
    n = len(window)
    level = float(window.mean())
    if level <= 0:
        return [0.0] * horizon
    # Position p of the window falls on the same weekday as the day that is n - p days ahead of it.
    sums = [0.0] * SEASON
    counts = [0] * SEASON
    for p, v in enumerate(window):
        slot = (p - n) % SEASON  # the slot of the forecast day h has (h) % SEASON == slot
        sums[slot] += float(v)
        counts[slot] += 1
    factors = [
        (sums[s] + PROFILE_SHRINK * level) / ((counts[s] + PROFILE_SHRINK) * level) for s in range(SEASON)
    ]
    return [level * factors[h % SEASON] for h in range(horizon)]


def _holt_winters(values: np.ndarray, horizon: int) -> list[float]:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    trend = len(values) >= MIN_TREND_DAYS
    model = ExponentialSmoothing(
        values,
        trend="add" if trend else None,
        damped_trend=trend,
        seasonal="add",
        seasonal_periods=SEASON,
        # Heuristic start values (from the first weeks) fit ~2x faster than estimated ones and
        # measure the same on the demo history; they need 10 + 2 * (7 // 2) = 16 days.
        initialization_method="heuristic" if len(values) >= HEURISTIC_INIT_DAYS else "estimated",
    )
    with warnings.catch_warnings():
        # Convergence chatter on short or flat series: the result is checked below instead.
        warnings.simplefilter("ignore")
        fitted = model.fit(use_brute=False)
        predicted = np.asarray(fitted.forecast(horizon), dtype=float)
    if not np.all(np.isfinite(predicted)):
        raise ValueError("Holt-Winters gave a non-finite forecast")
    return [float(v) for v in predicted]


def series_kind(history: Sequence[float]) -> str:
    """What the series allows before anything is measured: ``zero``, ``recent_mean`` (under two
    weeks), ``weekday_profile`` (intermittent), or ``holt_winters`` (a candidate, see ``predict``)."""
    values = np.asarray(history, dtype=float)
    recent = values[-PROFILE_WEEKS * SEASON:]
    if len(values) == 0 or not recent.any():
        return Model.ZERO
    if len(values) < MIN_SEASONAL_DAYS:
        return Model.RECENT_MEAN
    if (recent == 0).mean() > INTERMITTENT_ZERO_SHARE or recent.mean() < INTERMITTENT_MEAN:
        return Model.WEEKDAY_PROFILE
    return Model.HOLT_WINTERS


class _Fits:
    """Forecasts of one series from several origins, each model fitted once per origin."""

    def __init__(self, values: np.ndarray):
        self.values = values
        self._cache: dict[tuple[str, int, int], list[float] | None] = {}

    def forecast(self, model: str, origin: int, horizon: int) -> list[float] | None:
        """``model``'s forecast of ``horizon`` days from the first ``origin`` values (``None``:
        Holt-Winters could not be fitted)."""
        key = (model, origin, horizon)
        if key not in self._cache:
            train = self.values[max(0, origin - TRAINING_DAYS) : origin]
            if model == Model.HOLT_WINTERS:
                try:
                    self._cache[key] = _holt_winters(train, horizon)
                except (ValueError, np.linalg.LinAlgError):
                    self._cache[key] = None
            elif model == Model.WEEKDAY_PROFILE:
                self._cache[key] = _weekday_profile(train, horizon)
            elif model == Model.SEASONAL_NAIVE:
                self._cache[key] = seasonal_naive(train, horizon)
            elif model == Model.RECENT_MEAN:
                self._cache[key] = _recent_mean(train, horizon)
            else:
                self._cache[key] = [0.0] * horizon
        return self._cache[key]

    def choose(self, origin: int) -> str:
        """The model for a forecast from ``origin``: what the series allows, and between Holt-Winters
        and the weekday profile the one that forecast the week before ``origin`` better (from
        ``origin - 7``, so only data before ``origin`` decides). Without such a week to measure on,
        the weekday profile (the simpler model)."""
        kind = series_kind(self.values[:origin])
        if kind != Model.HOLT_WINTERS:
            return kind
        check = origin - SEASON
        if check < MIN_SEASONAL_DAYS:
            return Model.WEEKDAY_PROFILE
        actual = self.values[check:origin]
        hw = self.forecast(Model.HOLT_WINTERS, check, SEASON)
        if hw is None:
            return Model.WEEKDAY_PROFILE
        profile = self.forecast(Model.WEEKDAY_PROFILE, check, SEASON)
        hw_error = float(np.abs(actual - np.maximum(hw, 0)).sum())
        profile_error = float(np.abs(actual - np.asarray(profile)).sum())
        return Model.HOLT_WINTERS if hw_error < profile_error else Model.WEEKDAY_PROFILE

    def predict(self, origin: int, horizon: int, model: str | None = None) -> tuple[list[float], str]:
        used = model or self.choose(origin)
        predicted = self.forecast(used, origin, horizon)
        if predicted is None:  # Holt-Winters failed to fit: the weekday profile instead
            used, predicted = Model.WEEKDAY_PROFILE, self.forecast(Model.WEEKDAY_PROFILE, origin, horizon)
        return [max(0.0, v) for v in predicted], used


def predict(history: Sequence[float], horizon: int, model: str | None = None) -> tuple[list[float], str]:
    """Forecast ``horizon`` days after the end of ``history`` (daily portions, oldest first).

    Returns the forecast (never negative) and the model that made it: ``model`` if given
    (a candidate for the benchmark), else the one ``_Fits.choose`` picks.
    """
    values = np.asarray(history, dtype=float)
    return _Fits(values).predict(len(values), horizon, model)


# --- backtest ---------------------------------------------------------------------------


@dataclass
class Backtest:
    """The last ``BACKTEST_DAYS`` days forecast from earlier origins, by the model and the baseline."""

    actual: list[float] = field(default_factory=list)
    predicted: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)

    @property
    def wape(self) -> float | None:
        return wape(self.actual, self.predicted) if self.actual else None

    @property
    def baseline_wape(self) -> float | None:
        return wape(self.actual, self.baseline) if self.actual else None


def backtest(history: Sequence[float], *, model: str | None = None, days: int = BACKTEST_DAYS) -> Backtest:
    """Forecast the last ``days`` days from origins every ``BACKTEST_STEP`` days before the end.

    Each origin sees only the history before it. Needs a week of history before the first
    origin; with less the backtest is empty (its WAPEs ``None``).
    """
    return _backtest(_Fits(np.asarray(history, dtype=float)), model=model, days=days)


def _backtest(fits: _Fits, *, model: str | None = None, days: int = BACKTEST_DAYS) -> Backtest:
    values = fits.values
    result = Backtest()
    start = len(values) - days
    if start < SEASON:
        return result
    for origin in range(start, len(values), BACKTEST_STEP):
        steps = min(BACKTEST_STEP, len(values) - origin)
        predicted, _used = fits.predict(origin, steps, model)
        result.actual.extend(float(v) for v in values[origin : origin + steps])
        result.predicted.extend(predicted)
        result.baseline.extend(fits.forecast(Model.SEASONAL_NAIVE, origin, steps))
    return result


# --- per store and dish -----------------------------------------------------------------


@dataclass
class DishForecast:
    dish_code: str
    days: list[date]
    values: list[float]  # portions per day of ``days``
    model: str
    wape: float | None  # the model's backtest WAPE over the last 14 days
    baseline_wape: float | None  # the seasonal-naive baseline's over the same days
    history_days: int
    sold_last_week: int
    backtest_actual: float = 0.0  # portions sold over the backtest days (the WAPEs' denominator)

    @property
    def beats_baseline(self) -> bool | None:
        if self.wape is None or self.baseline_wape is None:
            return None
        return self.wape <= self.baseline_wape

    def value_on(self, day: date) -> float | None:
        try:
            return self.values[self.days.index(day)]
        except ValueError:
            return None


def dense_series(points: Iterable[tuple[date, float]], start: date, end: date) -> list[float]:
    """Daily values ``start``..``end`` inclusive from (day, value) points; missing days are 0."""
    length = (end - start).days + 1
    if length <= 0:
        return []
    values = [0.0] * length
    for day, value in points:
        offset = (day - start).days
        if 0 <= offset < length:
            values[offset] += float(value)
    return values


def forecast_dish(
    dish_code: str, history: Sequence[float], *, last_day: date, horizon: int, skip_days: int = 0
) -> DishForecast:
    """Forecast of one dish: ``history`` ends on ``last_day``; the forecast covers ``horizon``
    days starting ``skip_days`` after the day after it (``skip_days=1``: skip today, whose sales
    are not complete yet)."""
    if not MIN_HORIZON <= horizon <= MAX_HORIZON:
        raise ValueError(f"horizon must be {MIN_HORIZON}..{MAX_HORIZON} days")
    values = np.asarray(history, dtype=float)[-HISTORY_WINDOW:]
    fits = _Fits(values)
    predicted, used = fits.predict(len(values), skip_days + horizon)
    test = _backtest(fits)
    first = last_day + timedelta(days=1 + skip_days)
    return DishForecast(
        dish_code=dish_code,
        days=[first + timedelta(days=i) for i in range(horizon)],
        values=predicted[skip_days:],
        model=used,
        wape=test.wape,
        baseline_wape=test.baseline_wape,
        history_days=len(values),
        sold_last_week=round(float(values[-SEASON:].sum())),
        backtest_actual=float(sum(test.actual)),
    )


def portions(value: float) -> int:
    """A forecast shown or stocked as whole portions (half up)."""
    return math.floor(value + 0.5)


# --- reading the rollups ------------------------------------------------------------------


def store_dish_histories(store_ids: Iterable[int], *, end: date, days: int = HISTORY_WINDOW) -> dict:
    """Daily portions per (store id, dish code), from the store's first day with sales (at most
    ``days`` days back) to ``end`` inclusive, zeros filled in: ``{(store_id, code): (first_day, [..])}``.
    """
    from .selectors import dish_sales_daily

    start = end - timedelta(days=days - 1)
    points: dict[tuple[int, str], list[tuple[date, float]]] = {}
    first: dict[int, date] = {}
    for row in dish_sales_daily(store_ids, start, end):
        points.setdefault((row.store_id, row.dish_code), []).append((row.day, row.quantity))
        if row.store_id not in first or row.day < first[row.store_id]:
            first[row.store_id] = row.day
    return {
        key: (first[key[0]], dense_series(series, first[key[0]], end)) for key, series in points.items()
    }


CACHE_SECONDS = 15 * 60


def store_forecasts(store, *, today: date | None = None, horizon: int = MAX_HORIZON) -> dict[str, DishForecast]:
    """Forecasts of every dish the store sold in the history window, by dish code.

    History ends yesterday (store local date); the forecast covers ``horizon`` days from
    tomorrow (today's sales are not complete yet). Cached for a quarter of an hour per store
    and day: fitting takes a few seconds for a whole menu.
    """
    from django.core.cache import cache

    from stores.selectors import local_now

    today = today or local_now().date()
    end = today - timedelta(days=1)
    key = f"reports:forecast:v1:{store.pk}:{end.isoformat()}:{horizon}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    histories = store_dish_histories([store.pk], end=end)
    result = {
        code: forecast_dish(code, values, last_day=end, horizon=horizon, skip_days=1)
        for (_store_id, code), (_first, values) in sorted(histories.items())
    }
    cache.set(key, result, CACHE_SECONDS)
    return result
