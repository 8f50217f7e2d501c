"""ForecastModel: backtest → conformal intervals → one series answered at a time, saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest

from mofang.tasks.forecast.models import ConformalIntervals, ForecastModel, UnknownSeries, backtest, make_forecaster
from mofang.tasks.forecast.models.backtest import window_cut
from tests.tasks.forecast.models.fixtures import panel


def test_window_cut_holds_out_blocks_from_the_end() -> None:
    frame = panel(series=2, days=30)
    history, held = window_cut(frame, horizon=5, window=1)
    assert held.groupby("unique_id").size().tolist() == [5, 5]
    assert held["ds"].max() == frame["ds"].max() - np.timedelta64(5, "D")
    assert history["ds"].max() < held["ds"].min()


def test_backtest_windows_and_intervals_cover_most_actuals() -> None:
    frame = panel(series=4, days=90)
    result = backtest(lambda: make_forecaster("seasonal_naive", "D", 7), frame, 7, 3, 7, [0.1, 0.9])
    assert [w["window"] for w in result.windows] == [0, 1, 2] and all(w["wql"] is not None for w in result.windows)
    intervals = ConformalIntervals.fit(result.residuals, 7, [0.1, 0.9])
    assert intervals.residuals == 4 * 7 * 3 and (intervals.offsets[:, 0] <= intervals.offsets[:, 1]).all()


def test_forecast_model_answers_one_series_and_round_trips(tmp_path) -> None:
    frame = panel(series=3, days=70)
    result = backtest(lambda: make_forecaster("lightgbm", "D", 7, known=["promo"], n_estimators=60), frame, 7, 2, 7,
                      [0.1, 0.5, 0.9])
    intervals = ConformalIntervals.fit(result.residuals, 7, [0.1, 0.5, 0.9])
    model = ForecastModel("lightgbm", "D", 7, 7, [0.1, 0.5, 0.9], {"known": ["promo"], "n_estimators": 60})
    model.fit(frame, intervals)
    loaded = ForecastModel.load(model.save(tmp_path / "m.joblib"))
    answer = loaded.forecast("s1", 3)
    assert answer["series_id"] == "s1" and [p["time"][:10] for p in answer["forecast"]] == [
        "2024-03-11", "2024-03-12", "2024-03-13"]
    assert all(p["q0.1"] <= p["q0.5"] <= p["q0.9"] for p in answer["forecast"])
    promoted = loaded.forecast("s1", 3, known={"promo": [1, 1, 1]})
    calm = loaded.forecast("s1", 3, known={"promo": [0, 0, 0]})
    assert all(p["mean"] > c["mean"] + 10 for p, c in zip(promoted["forecast"], calm["forecast"], strict=True))
    with pytest.raises(UnknownSeries, match="unknown series id 'zz'.*3 series: s0, s1, s2"):
        loaded.forecast("zz")
    with pytest.raises(ValueError, match="outside 1..7"):
        loaded.forecast("s0", 8)
    with pytest.raises(ValueError, match="unknown covariates \\['price'\\]"):
        loaded.forecast("s0", 2, known={"price": [1.0, 2.0]})
    assert loaded.measure_latency(n=10)["p95_ms"] > 0


def test_ensemble_averages_members_and_refits_them(tmp_path) -> None:
    from mofang.tasks.forecast.models.product import EnsembleForecastModel

    frame = panel(series=3, days=70)
    empty = ConformalIntervals.fit(backtest(lambda: make_forecaster("seasonal_naive", "D", 7), frame, 7, 1, 7,
                                            [0.1, 0.9]).residuals, 7, [0.1, 0.9])
    naive = ForecastModel("seasonal_naive", "D", 7, 7, [0.1, 0.9]).fit(frame, empty)
    boosted = ForecastModel("lightgbm", "D", 7, 7, [0.1, 0.9], {"known": ["promo"], "n_estimators": 40}).fit(
        frame, empty)
    blend = EnsembleForecastModel([naive, boosted], empty)
    assert blend.name == "ensemble(seasonal_naive+lightgbm)" and blend.known == ["promo"]
    expected = (np.array([p["mean"] for p in naive.forecast("s0", 3)["forecast"]])
                + np.array([p["mean"] for p in boosted.forecast("s0", 3)["forecast"]])) / 2
    assert np.allclose([p["mean"] for p in blend.forecast("s0", 3)["forecast"]], expected)
    assert len(blend.forecast("s0", 2, known={"promo": [1, 0]})["forecast"]) == 2
    later = frame.assign(ds=frame["ds"] + np.timedelta64(7, "D"))
    refit = ForecastModel.load(blend.refit(later).save(tmp_path / "e.joblib"))
    assert isinstance(refit, EnsembleForecastModel)
    assert refit.forecast("s0", 1)["forecast"][0]["time"][:10] == "2024-03-18"
