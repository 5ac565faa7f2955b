"""Forecast accuracy on seeded history: WAPE of the forecast against the seasonal-naive baseline.

Builds a fresh demo database (SQLite file under var/ by default), seeds it with
``seed_demo --stores S --history-days N``, then backtests every (store, dish) series of the
history stores over the last 14 days exactly as the forecast page does, and prints the pooled
WAPE of the forecast and of the seasonal-naive baseline, by model, with the time taken.

    .venv/bin/python bench/forecast.py [--history-days 35] [--stores 14] [--candidates] [--keep-db]

``--candidates`` also backtests each model alone (Holt-Winters everywhere, the weekday profile
everywhere) to show what the per-series choice buys.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history-days", type=int, default=35)
    parser.add_argument("--stores", type=int, default=14, help="chain stores to seed (history: the first 14)")
    parser.add_argument("--candidates", action="store_true", help="also backtest each model alone")
    parser.add_argument("--database", default=str(ROOT / "var" / "bench_forecast.sqlite3"))
    parser.add_argument("--keep-db", action="store_true", help="reuse the database if it exists")
    args = parser.parse_args()

    db = Path(args.database)
    if db.exists() and not args.keep_db:
        db.unlink()
    db.parent.mkdir(parents=True, exist_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)
    from datetime import timedelta

    import numpy as np
    from django.core.management import call_command

    from reports.forecast import ErrorTally, Model, _backtest, _Fits, store_dish_histories
    from reports.history import history_store_codes
    from stores.models import Store
    from stores.selectors import local_now

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    call_command("seed_demo", stores=args.stores, history_days=args.history_days, quiet=True)
    seeded = time.perf_counter()
    print(f"migrate {migrated - started:.1f} s, seed_demo --stores {args.stores} "
          f"--history-days {args.history_days} {seeded - migrated:.1f} s")

    end = local_now().date() - timedelta(days=1)
    stores = list(Store.objects.filter(code__in=history_store_codes()).order_by("code"))
    histories = store_dish_histories([s.pk for s in stores], end=end)
    print(f"{len(stores)} stores, {len(histories)} (store, dish) series, history to {end}")

    modes = {"forecast": None}
    if args.candidates:
        modes.update({"holt_winters only": Model.HOLT_WINTERS, "weekday_profile only": Model.WEEKDAY_PROFILE})
    baseline = ErrorTally()
    by_mode = {name: ErrorTally() for name in modes}
    by_model: dict[str, tuple[ErrorTally, ErrorTally, int]] = {}
    timings = {}
    for name, model in modes.items():
        t0 = time.perf_counter()
        for _key, (_first, values) in histories.items():
            fits = _Fits(np.asarray(values, dtype=float))
            test = _backtest(fits, model=model)
            by_mode[name].add(test.actual, test.predicted)
            if model is None:
                baseline.add(test.actual, test.baseline)
                chosen = fits.choose(len(values))
                mine, base, n = by_model.get(chosen, (ErrorTally(), ErrorTally(), 0))
                mine.add(test.actual, test.predicted)
                base.add(test.actual, test.baseline)
                by_model[chosen] = (mine, base, n + 1)
        timings[name] = time.perf_counter() - t0

    def pct(value):
        return "—" if value is None else f"{100 * value:.1f} %"

    print()
    print(f"{'backtest, last 14 days':<28}{'WAPE':>10}{'seconds':>10}{'ms/series':>11}")
    for name in modes:
        seconds = timings[name]
        print(f"{name:<28}{pct(by_mode[name].wape):>10}{seconds:>10.1f}{1000 * seconds / len(histories):>11.1f}")
    print(f"{'seasonal naive (baseline)':<28}{pct(baseline.wape):>10}")
    print()
    print("by the model the forecast uses now (series, forecast WAPE vs baseline WAPE on them):")
    for chosen, (mine, base, n) in sorted(by_model.items()):
        print(f"  {chosen:<18}{n:>5} series  {pct(mine.wape):>9} vs {pct(base.wape):>9}")
    verdict = "beats" if (by_mode["forecast"].wape or 1) < (baseline.wape or 0) else "does NOT beat"
    print(f"\nthe forecast {verdict} the seasonal-naive baseline "
          f"({pct(by_mode['forecast'].wape)} vs {pct(baseline.wape)})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
