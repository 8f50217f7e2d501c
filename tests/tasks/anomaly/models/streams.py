"""A seeded multivariate sensor stream with planted anomaly windows (the shape of a SKAB export)."""

from __future__ import annotations

import numpy as np
import pandas as pd

SENSORS = ("pressure", "temperature", "flow")


def sensor_stream(n: int = 3000, events: int = 12, seed: int = 0, start: str = "2024-03-01 08:00:00") -> pd.DataFrame:
    """Readings every second of three correlated sensors; `events` windows of 25–45 readings spread over the
    stream carry a planted fault (a pressure jump, a temperature drift, or flow decoupled from pressure) and
    are labelled `anomaly` = 1."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    base = np.sin(2 * np.pi * t / 300.0)
    pressure = 5.0 + 0.5 * base + rng.normal(0, 0.05, n)
    temperature = 70.0 + 2.0 * np.sin(2 * np.pi * t / 900.0) + rng.normal(0, 0.1, n)
    flow = 30.0 + 4.0 * (pressure - 5.0) + rng.normal(0, 0.1, n)
    label = np.zeros(n, dtype=int)
    starts = np.linspace(150, n - 80, events).astype(int) + rng.integers(-20, 20, events)
    for k, begin in enumerate(starts):
        length = int(rng.integers(25, 45))
        span = slice(begin, begin + length)
        kind = k % 3
        if kind == 0:
            pressure[span] += 0.8
            flow[span] += 3.2  # the pair moves together: the level is what is wrong
        elif kind == 1:
            temperature[span] += np.linspace(1.5, 4.0, length)
        else:
            flow[span] = 30.0 + rng.normal(0, 1.2, length)  # flow no longer follows pressure
        label[span] = 1
    return pd.DataFrame({"datetime": pd.date_range(start, periods=n, freq="s").strftime("%Y-%m-%d %H:%M:%S"),
                         "pressure": pressure.round(4), "temperature": temperature.round(3),
                         "flow": flow.round(3), "anomaly": label})
