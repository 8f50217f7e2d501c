"""AnomalyModel: a fitted detector with its sensors, window and calibrated threshold, scoring readings."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from mofang.models.saved import SavedModel
from mofang.tasks.anomaly.models.detectors import Detector
from mofang.tasks.anomaly.models.features import feature_names, segments, window_features


class AnomalyModel(SavedModel):
    """Scores readings in time order; a reading is flagged when its score (smoothed over `smooth` readings)
    reaches `threshold_`, calibrated so that about `false_alarm_rate` of normal readings are flagged."""

    def __init__(self, name: str, detector: Detector, sensors: list[str], window: int,
                 time_column: str | None = None, smooth: int = 1) -> None:
        self.name = name
        self.family = detector.name
        self.detector_ = detector
        self.sensors = list(sensors)
        self.window = int(window)
        self.time_column = time_column
        self.smooth = max(1, int(smooth))
        self.threshold_: float | None = None
        self.false_alarm_rate: float | None = None

    @property
    def params(self) -> dict[str, Any]:
        return {"window": self.window, "smooth": self.smooth, **self.detector_.params}

    @property
    def features(self) -> list[str]:
        return feature_names(self.sensors)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Window features of `frame` (readings in time order; segments cut at long pauses when it has times)."""
        missing = [s for s in self.sensors if s not in frame.columns]
        if missing:
            raise ValueError(f"readings lack sensor columns {missing} (expected {self.sensors})")
        times = frame[self.time_column] if self.time_column and self.time_column in frame.columns else None
        return window_features(frame, self.sensors, self.window, segments(times, len(frame)))

    def scores(self, frame: pd.DataFrame) -> np.ndarray:
        """One anomaly score per reading (higher = stranger), smoothed over the last `smooth` readings."""
        raw = self.detector_.score(self.matrix(frame)) if len(frame) else np.zeros(0)
        return smooth_scores(raw, self.smooth)

    def flags(self, scores: np.ndarray) -> np.ndarray:
        if self.threshold_ is None:
            raise ValueError(f"{self.name} has no calibrated threshold")
        return np.asarray(scores) >= self.threshold_

    def score_frame(self, frame: pd.DataFrame) -> dict[str, Any]:
        """{"scores", "flags", "threshold"} for readings in time order."""
        scores = self.scores(frame)
        return {"scores": scores, "flags": self.flags(scores), "threshold": self.threshold_}

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """1 (anomalous) or 0 per reading, like any candidate's `predict` (for generic batch paths)."""
        return self.score_frame(frame)["flags"].astype(int)

    def calibrate(self, normal_scores: np.ndarray, false_alarm_rate: float) -> float:
        """Set the threshold to the (1 − rate) quantile of scores of normal readings; return it."""
        self.threshold_ = calibrated_threshold(normal_scores, false_alarm_rate)
        self.false_alarm_rate = false_alarm_rate
        return self.threshold_

    def measure_latency(self, frame: pd.DataFrame, n: int = 50, max_seconds: float = 2.0) -> dict[str, float]:
        """p50/p95 milliseconds of scoring one window of readings (`window` rows of `frame`)."""
        rows = frame.head(max(self.window, 1))
        timings: list[float] = []
        deadline = time.perf_counter() + max_seconds
        for _ in range(max(1, n)):
            started = time.perf_counter()
            self.score_frame(rows)
            timings.append((time.perf_counter() - started) * 1000.0)
            if time.perf_counter() > deadline:
                break
        return {"p50_ms": float(np.percentile(timings, 50)), "p95_ms": float(np.percentile(timings, 95))}


def smooth_scores(scores: np.ndarray, k: int) -> np.ndarray:
    """Trailing mean over `k` readings (the first readings average what they have)."""
    scores = np.asarray(scores, dtype=float)
    if k <= 1 or not len(scores):
        return scores
    return pd.Series(scores).rolling(k, min_periods=1).mean().to_numpy()


def calibrated_threshold(normal_scores: np.ndarray, false_alarm_rate: float) -> float:
    """The score at or above which about `false_alarm_rate` of these normal readings lie."""
    values = np.asarray(normal_scores, dtype=float)
    values = values[np.isfinite(values)]
    if not len(values):
        raise ValueError("no normal readings to calibrate the threshold on")
    threshold = float(np.quantile(values, 1.0 - false_alarm_rate, method="higher"))
    above = float(np.mean(values >= threshold))
    if above > 2 * false_alarm_rate:  # many ties at the quantile: step just above them
        threshold = float(np.nextafter(threshold, np.inf))
    return threshold
