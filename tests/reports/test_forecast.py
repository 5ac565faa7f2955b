"""reports.forecast: WAPE, the seasonal-naive baseline, the backtest, the model choice and its fallbacks."""

from datetime import date

import numpy as np
import pytest

from reports.forecast import (
    ErrorTally,
    Model,
    backtest,
    dense_series,
    forecast_dish,
    portions,
    predict,
    seasonal_naive,
    series_kind,
    wape,
)


def test_wape_on_a_hand_made_series():
    # |10-8| + |0-1| + |5-5| + |5-7| = 5 over 20 portions sold
    assert wape([10, 0, 5, 5], [8, 1, 5, 7]) == 0.25
    assert wape([0, 0], [1, 2]) is None  # nothing sold: undefined, not 0 or infinity
    with pytest.raises(ValueError, match="differ in length"):
        wape([1, 2], [1])


def test_pooled_wape_weights_series_by_what_they_sold():
    tally = ErrorTally()
    tally.add([10, 10], [9, 11])  # error 2 on 20
    tally.add([1, 1], [3, 3])  # error 4 on 2
    assert tally.wape == 6 / 22
    assert ErrorTally().wape is None


def test_seasonal_naive_repeats_the_last_week():
    history = list(range(14))  # days 0..13
    assert seasonal_naive(history, 9) == [7, 8, 9, 10, 11, 12, 13, 7, 8]
    assert seasonal_naive([4, 6], 3) == [5.0, 5.0, 5.0]  # under a week: the mean, flat
    assert seasonal_naive([], 3) == [0.0, 0.0, 0.0]


def test_backtest_forecasts_the_last_14_days_from_two_origins_and_scores_the_baseline_exactly():
    weekly = [10, 10, 10, 10, 12, 20, 18]
    history = weekly * 2 + [11, 10, 10, 10, 12, 20, 18]  # 21 days; day 14 sold 11 instead of 10
    result = backtest(history)
    assert result.actual == [float(v) for v in history[7:]]
    # origin 7 repeats week 1 for week 2, origin 14 repeats week 2 for week 3
    assert result.baseline == [float(v) for v in history[:14]]
    assert result.baseline_wape == pytest.approx(1 / sum(history[7:]))  # only day 14 is off, by 1
    assert len(result.predicted) == 14


def test_backtest_needs_a_week_before_its_first_origin():
    result = backtest([5.0] * 20)
    assert result.actual == [] and result.wape is None and result.baseline_wape is None


def test_fallbacks_for_empty_short_zero_and_intermittent_series():
    assert predict([], 3) == ([0.0, 0.0, 0.0], Model.ZERO)
    assert predict([0.0] * 40, 3) == ([0.0, 0.0, 0.0], Model.ZERO)
    # 10 days: under two weeks, the mean of the last 7 days
    assert predict([1, 1, 1, 2, 4, 6, 8, 10, 12, 14], 2) == ([8.0, 8.0], Model.RECENT_MEAN)
    # sells on one day of three: intermittent, the weekday profile
    intermittent = [3.0 if i % 3 == 0 else 0.0 for i in range(35)]
    assert series_kind(intermittent) == Model.WEEKDAY_PROFILE
    values, model = predict(intermittent, 7)
    assert model == Model.WEEKDAY_PROFILE and all(v >= 0 for v in values)


def test_weekday_profile_is_the_mean_times_a_shrunk_weekday_factor():
    # four weeks of 10 on weekdays and 20 at weekends; the window ends on a Sunday
    week = [10.0] * 5 + [20.0] * 2
    values, model = predict(week * 4, 7, model=Model.WEEKDAY_PROFILE)
    level = 90 / 7
    weekday = (4 * 10 + 2 * level) / 6  # four Mondays seen, two pseudo-weeks of the mean
    weekend = (4 * 20 + 2 * level) / 6
    assert model == Model.WEEKDAY_PROFILE
    assert values == pytest.approx([weekday] * 5 + [weekend] * 2)


def test_holt_winters_takes_over_when_it_forecasts_the_last_week_better():
    # a clear upward trend on a weekly pattern: the four-week mean lags, Holt-Winters follows
    t = np.arange(42)
    history = 20 + 0.8 * t + np.tile([0, 0, 0, 0, 5, 10, 8], 6)
    values, model = predict(history, 7)
    assert model == Model.HOLT_WINTERS
    expected = 20 + 0.8 * np.arange(42, 49) + np.array([0, 0, 0, 0, 5, 10, 8])
    assert np.allclose(values, expected, rtol=0.05)
    assert series_kind(history) == Model.HOLT_WINTERS


def test_forecast_of_a_dish_names_its_model_days_and_backtest():
    weekly = [10, 10, 10, 10, 12, 20, 18]
    forecast = forecast_dish("noodles", weekly * 5, last_day=date(2026, 3, 8), horizon=3, skip_days=1)
    assert forecast.days == [date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)]
    assert len(forecast.values) == 3
    assert forecast.model in (Model.HOLT_WINTERS, Model.WEEKDAY_PROFILE)
    assert forecast.wape is not None and forecast.baseline_wape == 0.0  # a perfectly weekly series
    assert forecast.sold_last_week == 90 and forecast.history_days == 35
    assert forecast.backtest_actual == 2 * 90
    with pytest.raises(ValueError, match="horizon"):
        forecast_dish("noodles", weekly, last_day=date(2026, 3, 8), horizon=8)


def test_dense_series_fills_missing_days_with_zero_and_portions_round_half_up():
    points = [(date(2026, 3, 2), 3), (date(2026, 3, 4), 5)]
    assert dense_series(points, date(2026, 3, 1), date(2026, 3, 4)) == [0.0, 3.0, 0.0, 5.0]
    assert [portions(v) for v in (0.49, 0.5, 2.5, 7.2)] == [0, 1, 3, 7]
