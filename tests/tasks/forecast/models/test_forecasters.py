"""The forecasting families: seasonal naive repeats the last season; the global LightGBM learns the weekly
cycle across series and reads known covariates; statsforecast's AutoETS fits every series."""

from __future__ import annotations

import pandas as pd
import pytest

from mofang.tasks.forecast.models import make_forecaster
from mofang.tasks.forecast.models.metrics import forecast_metrics
from tests.tasks.forecast.models.fixtures import panel, split_last


def test_seasonal_naive_repeats_the_last_season_from_the_next_step() -> None:
    frame = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2024-01-01", periods=6, freq="D"),
                          "y": [1, 2, 3, 4, 5, 6.0]})
    out = make_forecaster("seasonal_naive", "D", 3).fit(frame).predict(5)
    assert out["yhat"].tolist() == [4, 5, 6, 4, 5.0]
    assert out["ds"].iloc[0] == pd.Timestamp("2024-01-07") and out["step"].tolist() == [1, 2, 3, 4, 5]


def test_lightgbm_beats_seasonal_naive_with_the_known_promotions() -> None:
    history, test = split_last(panel(), 14)
    naive = make_forecaster("seasonal_naive", "D", 7).fit(history).predict(14)
    boosted = make_forecaster("lightgbm", "D", 7, known=["promo"], n_estimators=150).fit(history)
    with_promos = boosted.predict(14, test)
    scores = {name: forecast_metrics(test, f, history, 7)["mase"] for name, f in
              (("naive", naive), ("lightgbm", with_promos))}
    assert scores["lightgbm"] < 0.6 * scores["naive"], scores
    assert boosted.uses_known and len(with_promos) == 3 * 14


def test_auto_ets_forecasts_each_series() -> None:
    history, test = split_last(panel(series=2, days=56), 7)
    out = make_forecaster("auto_ets", "D", 7).fit(history[["unique_id", "ds", "y"]]).predict(7)
    assert sorted(out["unique_id"].unique()) == ["s0", "s1"] and len(out) == 14
    assert forecast_metrics(test, out, history, 7)["mase"] < 1.5


def test_unknown_family_is_named() -> None:
    with pytest.raises(ValueError, match="unknown forecast family 'prophet'"):
        make_forecaster("prophet", "D", 7)
