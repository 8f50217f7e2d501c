"""MASE, sMAPE and WQL against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mofang.tasks.forecast.models.metrics import forecast_metrics, seasonal_scale, weighted_quantile_loss


def test_seasonal_scale_uses_the_season_lag_and_falls_back_to_lag_one() -> None:
    assert seasonal_scale(np.array([1, 2, 3, 2, 3, 4, 3, 4, 5.0]), 3) == pytest.approx(1.0)
    assert seasonal_scale(np.array([1, 3, 6.0]), 7) == pytest.approx(2.5)  # shorter than two seasons: lag 1
    assert np.isnan(seasonal_scale(np.array([5, 5, 5.0]), 1))  # constant: no scale


def test_forecast_metrics_per_series_then_mean() -> None:
    history = pd.DataFrame({"unique_id": ["a"] * 4 + ["b"] * 4, "ds": list(range(4)) * 2,
                            "y": [0, 2, 4, 6, 10, 10, 12, 12.0]})  # lag-1 scales: a 2, b 2/3
    actual = pd.DataFrame({"unique_id": ["a", "a", "b"], "ds": [4, 5, 4], "y": [8, 10, 12.0]})
    forecast = pd.DataFrame({"unique_id": ["a", "a", "b"], "ds": [4, 5, 4], "yhat": [7, 12, 12.0],
                             "q0.5": [7, 12, 12.0]})
    metrics = forecast_metrics(actual, forecast, history, season=1, quantiles=[0.5])
    assert metrics["mase"] == pytest.approx((1.5 / 2 + 0.0) / 2)
    smape_a = (2 * 1 / 15 + 2 * 2 / 22) / 2
    assert metrics["smape"] == pytest.approx(smape_a / 2)
    assert metrics["wql"] == pytest.approx(2 * 0.5 * 3 / 30)  # pinball at the median: half the absolute error


def test_wql_is_none_without_quantile_columns() -> None:
    joined = pd.DataFrame({"y": [1.0, 2.0], "yhat": [1.0, 2.0]})
    assert weighted_quantile_loss(joined, [0.1, 0.9]) is None
