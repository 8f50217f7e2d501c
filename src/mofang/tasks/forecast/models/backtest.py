"""Backtesting over rolling windows: each window holds out `horizon` steps at the end of every series'
history (the newest window first), fits on what comes before and scores the forecast."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mofang.tasks.forecast.models.forecasters import Forecaster
from mofang.tasks.forecast.models.intervals import ConformalIntervals
from mofang.tasks.forecast.models.metrics import ID, POINT, TIME, VALUE, forecast_metrics, scales_by_series

MIN_HISTORY = 4  # steps a series needs before a window to take part in it


@dataclass
class Backtest:
    """Per-window metrics (with the window's cutoff), scaled residuals (step, error) and seconds per fit."""

    windows: list[dict] = field(default_factory=list)
    residuals: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=[ID, "step", "error"]))
    seconds: list[float] = field(default_factory=list)
    stopped: str = ""
    forecasts: dict[int, pd.DataFrame] = field(default_factory=dict)  # each window's forecast, for blending

    def mean(self, metric: str) -> float | None:
        values = [w[metric] for w in self.windows if w.get(metric) is not None]
        return float(np.mean(values)) if values else None


def window_cut(panel: pd.DataFrame, horizon: int, window: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, held-out) of window `window` (0 = the newest): per series the block of `horizon` steps
    ending `window * horizon` steps before its end; series too short for it are left out."""
    position = panel.groupby(ID, sort=False).cumcount(ascending=False)
    length = panel.groupby(ID, sort=False)[TIME].transform("size")
    enough = length >= (window + 1) * horizon + MIN_HISTORY
    held = enough & (position >= window * horizon) & (position < (window + 1) * horizon)
    history = enough & (position >= (window + 1) * horizon)
    return panel[history].reset_index(drop=True), panel[held].reset_index(drop=True)


def backtest(make: Callable[[], Forecaster], panel: pd.DataFrame, horizon: int, windows: int, season: int,
             quantiles: list[float], deadline: float | None = None) -> Backtest:
    """Backtest fresh forecasters from `make` on up to `windows` windows of `panel` (sorted long table);
    stops early (saying so) when the next window and one more fit (the final one, after the backtest)
    would pass `deadline` (time.monotonic())."""
    forecasts: dict[int, pd.DataFrame] = {}
    seconds: list[float] = []
    stopped = ""
    for window in range(windows):
        history, held = window_cut(panel, horizon, window)
        if held.empty:
            stopped = f"{window} windows: the series are too short for more"
            break
        if deadline is not None and seconds and time.monotonic() + 2 * max(seconds) > deadline:
            stopped = f"{window} of {windows} windows within the time budget"
            break
        started = time.monotonic()
        forecaster = make().fit(history)
        forecasts[window] = forecaster.predict(horizon, held if forecaster.uses_known else None)
        seconds.append(time.monotonic() - started)
    result = score_windows(panel, forecasts, horizon, season, quantiles)
    result.seconds, result.stopped = seconds, stopped
    return result


def score_windows(panel: pd.DataFrame, forecasts: dict[int, pd.DataFrame], horizon: int, season: int,
                  quantiles: list[float]) -> Backtest:
    """Metrics and scaled residuals of each window's forecast (unique_id, ds, step, yhat); WQL of a window
    uses intervals calibrated on the other windows' residuals (its own when it is the only one)."""
    result = Backtest()
    residuals, kept = [], []
    for window, forecast in sorted(forecasts.items()):
        history, held = window_cut(panel, horizon, window)
        scales = scales_by_series(history, season)
        level = history.groupby(ID)[VALUE].apply(lambda s: float(s.abs().mean()) or 1.0)
        merged = {k: (v if np.isfinite(v) else float(level[k])) for k, v in scales.items()}
        joined = held[[ID, TIME, VALUE]].merge(forecast, on=[ID, TIME])
        joined["error"] = (joined[VALUE] - joined[POINT]) / joined[ID].map(merged).to_numpy(dtype=float)
        joined["window"] = window
        residuals.append(joined[[ID, "step", "error", "window"]])
        kept.append((window, history, held, forecast, merged))
        result.windows.append({"window": window, "cutoff": str(history[TIME].max()), "series": int(held[ID].nunique()),
                               **forecast_metrics(held, forecast, history, season)})
    if residuals:
        result.residuals = pd.concat(residuals, ignore_index=True)
    for entry, (window, history, held, forecast, merged) in zip(result.windows, kept, strict=True):
        others = result.residuals[result.residuals["window"] != window]  # calibrated without this window
        intervals = ConformalIntervals.fit(others if len(others) else result.residuals, horizon, quantiles)
        entry["wql"] = forecast_metrics(held, intervals.apply(forecast, merged), history, season, quantiles)["wql"]
    result.forecasts = forecasts
    return result
