"""Small synthetic panels for forecast unit tests: weekly-cycle daily series with a promotion effect."""

from __future__ import annotations

import numpy as np
import pandas as pd


def panel(series: int = 3, days: int = 70, seed: int = 0) -> pd.DataFrame:
    """unique_id, ds, y, promo: level × weekly cycle + 25 on promotion days + small noise."""
    rng = np.random.default_rng(seed)
    frames = []
    stamps = pd.date_range("2024-01-01", periods=days, freq="D")
    for i in range(series):
        promo = (rng.random(days) < 0.15).astype(float)
        y = (50 + 30 * i) * (1 + 0.3 * np.sin(2 * np.pi * stamps.dayofweek / 7)) + 25 * promo + rng.normal(0, 1, days)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": stamps, "y": y, "promo": promo}))
    return pd.concat(frames, ignore_index=True)


def split_last(frame: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = frame["ds"].max() - pd.Timedelta(days=horizon)
    return frame[frame["ds"] <= cut].reset_index(drop=True), frame[frame["ds"] > cut].reset_index(drop=True)
