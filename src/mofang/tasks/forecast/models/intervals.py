"""Conformal prediction intervals from backtest residuals: per forecast step, empirical quantiles of the
errors scaled by each series' scale, added to the point forecast."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mofang.tasks.forecast.models.metrics import POINT, quantile_column

MIN_PER_STEP = 30  # fewer residuals at a step than this: that step pools the residuals of every step


@dataclass
class ConformalIntervals:
    """offsets[h, j]: the quantiles[j] of scaled residuals (y - yhat) / scale at forecast step h + 1."""

    quantiles: list[float]
    offsets: np.ndarray
    residuals: int

    @classmethod
    def fit(cls, residuals: pd.DataFrame, horizon: int, quantiles: Sequence[float]) -> ConformalIntervals:
        """From a table of step (1-based) and scaled error; with no residuals the intervals have width zero."""
        quantiles = sorted(quantiles)
        offsets = np.zeros((horizon, len(quantiles)))
        errors = residuals["error"].to_numpy(dtype=float) if len(residuals) else np.zeros(0)
        finite = np.isfinite(errors)
        steps, errors = residuals["step"].to_numpy()[finite] if len(residuals) else np.zeros(0), errors[finite]
        if len(errors):
            pooled = np.quantile(errors, quantiles)
            for h in range(horizon):
                at_step = errors[steps == h + 1]
                offsets[h] = np.quantile(at_step, quantiles) if len(at_step) >= MIN_PER_STEP else pooled
            offsets = np.sort(offsets, axis=1)  # quantiles never cross
        return cls(list(quantiles), offsets, int(len(errors)))

    def apply(self, forecast: pd.DataFrame, scales: dict[str, float]) -> pd.DataFrame:
        """`forecast` (unique_id, step, yhat) with one column per quantile."""
        out = forecast.copy()
        scale = out["unique_id"].map(lambda s: scales.get(str(s), np.nan)).to_numpy(dtype=float)
        scale = np.where(np.isfinite(scale), scale, 0.0)
        steps = np.clip(out["step"].to_numpy(dtype=int), 1, len(self.offsets)) - 1
        for j, q in enumerate(self.quantiles):
            out[quantile_column(q)] = out[POINT].to_numpy() + scale * self.offsets[steps, j]
        return out
