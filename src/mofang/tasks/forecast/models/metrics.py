"""Forecast metrics over many series: MASE (mean absolute scaled error), sMAPE and WQL (weighted quantile
loss), all lower-is-better. Tables are long: unique_id, ds, y (actuals) and yhat plus quantile columns."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

ID, TIME, VALUE, POINT = "unique_id", "ds", "y", "yhat"


def quantile_column(q: float) -> str:
    """The column of quantile q in a forecast table (q0.1, q0.5, q0.9)."""
    return f"q{q:g}"


def seasonal_scale(history: np.ndarray, season: int) -> float:
    """MASE's scale: the in-sample mean absolute error of the seasonal naive forecast (lag 1 when the
    history is shorter than two seasons); NaN when the history is constant."""
    history = np.asarray(history, dtype=float)
    history = history[~np.isnan(history)]
    lag = season if len(history) > 2 * season else 1
    if len(history) <= lag:
        return float("nan")
    scale = float(np.mean(np.abs(history[lag:] - history[:-lag])))
    return scale if scale > 0 else float("nan")


def scales_by_series(history: pd.DataFrame, season: int) -> dict[str, float]:
    """Each series' MASE scale from its history."""
    return {str(key): seasonal_scale(part[VALUE].to_numpy(), season)
            for key, part in history.sort_values([ID, TIME]).groupby(ID, sort=False)}


def forecast_metrics(actual: pd.DataFrame, forecast: pd.DataFrame, history: pd.DataFrame, season: int,
                     quantiles: Sequence[float] = ()) -> dict[str, float | None]:
    """{"mase", "smape", "wql"} of `forecast` against `actual` (joined on series and time). MASE and sMAPE
    are averaged over series; WQL is the mean over quantiles of 2·Σ pinball loss / Σ|y| (None without
    quantile columns)."""
    joined = actual[[ID, TIME, VALUE]].merge(forecast, on=[ID, TIME], how="inner")
    if joined.empty:
        return {"mase": None, "smape": None, "wql": None}
    scales = scales_by_series(history, season)
    error = (joined[VALUE] - joined[POINT]).abs()
    per_series = error.groupby(joined[ID]).mean()
    scale = per_series.index.map(lambda s: scales.get(str(s), float("nan"))).to_numpy(dtype=float)
    mase = per_series.to_numpy() / scale
    denominator = joined[VALUE].abs() + joined[POINT].abs()
    smape_terms = np.where(denominator > 0, 2 * error / denominator.where(denominator > 0, 1.0), 0.0)
    smape = pd.Series(smape_terms).groupby(joined[ID].to_numpy()).mean()
    return {"mase": _mean(mase), "smape": _mean(smape.to_numpy()), "wql": weighted_quantile_loss(joined, quantiles)}


def weighted_quantile_loss(joined: pd.DataFrame, quantiles: Sequence[float]) -> float | None:
    """Mean over quantiles of 2·Σ pinball loss / Σ|y|; None when no quantile column is present."""
    total = float(joined[VALUE].abs().sum())
    losses = []
    for q in quantiles:
        column = quantile_column(q)
        if column not in joined.columns or total <= 0:
            continue
        diff = joined[VALUE].to_numpy() - joined[column].to_numpy()
        losses.append(2 * float(np.sum(np.maximum(q * diff, (q - 1) * diff))) / total)
    return float(np.mean(losses)) if losses else None


def _mean(values: np.ndarray) -> float | None:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None
