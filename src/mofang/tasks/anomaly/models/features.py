"""Window features of a sensor stream: each reading with the statistics of the window of readings ending at it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mofang.data.split import time_keys

GAP_FACTOR = 10.0  # a pause longer than this many median intervals starts a new segment (windows never span it)


def segments(times: pd.Series | None, n: int) -> np.ndarray:
    """Segment number of each reading: a new one after each pause of more than GAP_FACTOR median intervals
    (e.g. between two recorded experiments); one segment without times."""
    if times is None or not n:
        return np.zeros(n, dtype=int)

    keys = time_keys(pd.Series(times).reset_index(drop=True), str(getattr(times, "name", "time")))  # checks them
    steps = np.diff(keys)
    positive = steps[steps > 0]
    if not len(positive):
        return np.zeros(n, dtype=int)
    gap = GAP_FACTOR * float(np.median(positive))
    return np.concatenate([[0], np.cumsum(steps > gap)]).astype(int)


def feature_names(sensors: list[str]) -> list[str]:
    return [f"{s}{suffix}" for s in sensors for suffix in ("", ":dev", ":std", ":diff")]


def window_features(frame: pd.DataFrame, sensors: list[str], window: int,
                    segment: np.ndarray | None = None) -> np.ndarray:
    """(n, 4 × sensors) float matrix in the order of `frame` (readings in time order): per sensor the reading,
    its deviation from the mean of the window ending at it, the window's standard deviation and the step from
    the previous reading. A window never reaches back across a segment boundary; the first readings of a
    segment use the readings they have. Missing readings are carried forward within a segment."""
    values = frame[sensors].apply(pd.to_numeric, errors="coerce").astype(float).reset_index(drop=True)
    if segment is None or len(np.unique(segment)) <= 1:  # one stream (a served window): no grouping needed
        values = values.ffill()
        mean = values.rolling(window, min_periods=1).mean()
        std = values.rolling(window, min_periods=2).std().fillna(0.0)
        diff = values.diff().fillna(0.0)
    else:
        groups = pd.Series(segment)
        values = values.groupby(groups).ffill()
        grouped = values.groupby(groups)
        mean = grouped.rolling(window, min_periods=1).mean().reset_index(level=0, drop=True).sort_index()
        std = grouped.rolling(window, min_periods=2).std().reset_index(level=0, drop=True).sort_index().fillna(0.0)
        diff = grouped.diff().fillna(0.0)
    v, m, s, d = (x.to_numpy(dtype=float) for x in (values, mean, std, diff))
    return np.stack([v, v - m, s, d], axis=2).reshape(len(values), 4 * len(sensors))
