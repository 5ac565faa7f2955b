"""The forecast against the seasonal-naive baseline on seeded demo history (deterministic)."""

from datetime import date, timedelta
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command

from reports.forecast import ErrorTally, Model, _backtest, _Fits, store_dish_histories, store_forecasts
from reports.history import history_generate
from reports.services import rollups_refresh
from stores.demo_data import CHAIN
from stores.models import Brand, Store

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

TODAY = date(2026, 3, 9)
DAYS = 35


def test_forecast_beats_the_seasonal_naive_baseline_on_seeded_history():
    call_command("seed_demo", stores=2, history_days=0, force=True, stdout=StringIO())  # SH001, BJ001
    brand = Brand.objects.get(code=CHAIN.code)
    written = history_generate(brand=brand, days=DAYS, store_codes=["SH001", "BJ001"], today=TODAY)
    assert written.days == 2 * DAYS
    rollups_refresh(start=TODAY - timedelta(days=DAYS), end=TODAY - timedelta(days=1))

    stores = list(Store.objects.filter(code__in=["SH001", "BJ001"]))
    histories = store_dish_histories([s.pk for s in stores], end=TODAY - timedelta(days=1))
    forecast, baseline = ErrorTally(), ErrorTally()
    models = set()
    for _first, values in histories.values():
        fits = _Fits(np.asarray(values, dtype=float))
        result = _backtest(fits)
        forecast.add(result.actual, result.predicted)
        baseline.add(result.actual, result.baseline)
        models.add(fits.choose(len(values)))
    assert len(histories) > 100 and forecast.actual > 5000
    assert forecast.wape < 0.9 * baseline.wape  # at least 10% lower error than the baseline
    assert {Model.HOLT_WINTERS, Model.WEEKDAY_PROFILE} <= models

    # the page's forecasts of one store: tomorrow onwards, each with its two WAPEs
    per_dish = store_forecasts(stores[0], today=TODAY)
    noodles = max(per_dish.values(), key=lambda f: f.sold_last_week)
    assert noodles.days[0] == TODAY + timedelta(days=1) and len(noodles.values) == 7
    assert noodles.wape is not None and noodles.baseline_wape is not None
