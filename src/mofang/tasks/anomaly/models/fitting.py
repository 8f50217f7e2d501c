"""Fit every anomaly detector family on the past, calibrate its threshold on valid, measure it on valid events."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mofang.core.metrics.anomaly import anomaly_metrics
from mofang.data.sensors import labels_of
from mofang.tasks.anomaly.models.detectors import DETECTORS, Detector, EitherDetector
from mofang.tasks.anomaly.models.features import segments
from mofang.tasks.anomaly.models.model import AnomalyModel, smooth_scores

FAMILIES = ("robust-z", "isolation-forest", "pca-reconstruction", "lightgbm-windows")
UNLABELLED_CHOICE = "isolation-forest"  # without labels nothing can be compared: the widely used default
MIN_POSITIVES = 10  # anomalous training readings the supervised family needs


@dataclass
class Fitted:
    """One calibrated candidate and what validation says of it."""

    model: AnomalyModel
    valid_metrics: dict[str, Any]
    fit_seconds: float
    note: str
    calibrated_on: str = "valid"


def stream_info(info: dict[str, Any]) -> tuple[list[str], int, float, str | None, str | None]:
    return (list(info["sensors"]), int(info["window"]), float(info["false_alarm_rate"]), info.get("label"),
            info.get("time_column"))


def fit_detectors(train: pd.DataFrame, valid: pd.DataFrame, info: dict[str, Any], *, seed: int = 42,
                  families: Sequence[str] = FAMILIES, deadline: float | None = None,
                  on_family: Callable[[int, str], None] | None = None) -> tuple[list[Fitted], dict[str, str]]:
    """Fit each family on `train` (normal readings only for unsupervised ones when labels exist), calibrate its
    threshold on valid normal readings to the false-alarm rate, and measure it on valid; with a supervised
    family, add its either-combination with the best unsupervised one. Returns the fitted candidates and, per
    family not trained, the reason. `deadline` is a time.monotonic() value."""
    sensors, window, rate, label, time_column = stream_info(info)
    template = AnomalyModel("features", DETECTORS["robust-z"](seed), sensors, window, time_column)
    X_train, X_valid = template.matrix(train), template.matrix(valid)
    y_train = labels_of(train[label]) if label and label in train.columns else None
    y_valid = labels_of(valid[label]) if label and label in valid.columns else None
    normal_train = np.ones(len(train), dtype=bool) if y_train is None else y_train == 0
    times = valid[time_column] if time_column and time_column in valid.columns else None
    stage = _Stage(info, X_train[normal_train], X_valid, y_valid,
                   np.ones(len(valid), dtype=bool) if y_valid is None else y_valid == 0,
                   times.to_numpy() if times is not None else None, segments(times, len(valid)))
    fitted: list[Fitted] = []
    skipped: dict[str, str] = {}
    for index, family in enumerate(families):
        if on_family:
            on_family(index, family)
        if deadline is not None and time.monotonic() > deadline and fitted:
            skipped[family] = f"{family}: not trained — the training time is spent"
            continue
        detector = DETECTORS[family](seed)
        started = time.perf_counter()
        if detector.supervised:
            positives = 0 if y_train is None else int(y_train.sum())
            if positives < MIN_POSITIVES or normal_train.sum() < MIN_POSITIVES:
                skipped[family] = (f"{family}: not trained — supervised, needs {MIN_POSITIVES}+ labelled anomalous "
                                   f"and normal training readings ({positives} anomalous)")
                continue
            detector.fit(X_train, y_train)
        else:
            detector.fit(X_train[normal_train])
        fitted.append(stage.calibrated(detector, started))
    either = either_of(fitted, stage)
    if either is not None:
        fitted.append(either)
    return fitted, skipped


def either_of(fitted: list[Fitted], stage: _Stage) -> Fitted | None:
    """The supervised candidate combined with the best unsupervised one (by valid event F1), calibrated like the
    others; None without both."""
    supervised = [f for f in fitted if f.model.detector_.supervised]
    novelty = [f for f in fitted if not f.model.detector_.supervised]
    if not supervised or not novelty:
        return None
    position, _ = choose([(f.model.family, f.valid_metrics) for f in novelty], "event_f1", "higher",
                         labelled=stage.y_valid is not None)
    members = [supervised[0].model, novelty[position].model]
    started = time.perf_counter()
    detector = EitherDetector(members[0].detector_.seed, [m.detector_ for m in members],
                              [float(m.threshold_ or 1.0) for m in members])
    return stage.calibrated(detector, started, family="+".join(m.family for m in members))


@dataclass
class _Stage:
    """What calibrating and measuring a detector on valid needs."""

    info: dict[str, Any]
    X_normal_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray | None
    normal_valid: np.ndarray
    times: np.ndarray | None
    segment: np.ndarray

    def calibrated(self, detector: Detector, started: float, family: str | None = None) -> Fitted:
        sensors, window, rate, _, time_column = stream_info(self.info)
        family = family or detector.name
        smooth = int(self.info.get("smooth", window))  # scores averaged over the window by default
        model = AnomalyModel(family, detector, sensors, window, time_column, smooth=smooth)
        model.family = family
        valid_scores = smooth_scores(detector.score(self.X_valid), model.smooth)
        if self.normal_valid.sum() >= 10:
            model.calibrate(valid_scores[self.normal_valid], rate)
            where = f"{int(self.normal_valid.sum()):,} normal valid readings"
        else:  # valid holds (almost) no normal reading: calibrate on the normal training readings
            model.calibrate(smooth_scores(detector.score(self.X_normal_train), model.smooth), rate)
            where = f"{len(self.X_normal_train):,} normal training readings (valid has too few normal ones)"
        seconds = time.perf_counter() - started
        flags = model.flags(valid_scores)
        metrics = (anomaly_metrics(self.y_valid, flags, self.times, self.segment) if self.y_valid is not None
                   else {"false_alarm_rate": float(np.mean(flags))})
        note = (f"{family}: threshold {model.threshold_:.4g} flags {rate:.2%} of {where}"
                + (f"; valid event F1 {_fmt(metrics.get('event_f1'))} ({metrics.get('events_detected', 0)}/"
                   f"{metrics.get('events', 0)} events, {metrics.get('false_alarms', 0)} false alarms, delay "
                   f"{_fmt(metrics.get('detection_delay'), 1)} readings)" if self.y_valid is not None else
                   "; no labels to measure events on")
                + f"; fitted in {seconds:.1f}s")
        return Fitted(model, metrics, seconds, note, where)


def choose(candidates: Sequence[tuple[str, dict[str, Any]]], metric: str, direction: str,
           labelled: bool) -> tuple[int, str]:
    """The position of the winner among (family, valid metrics) pairs and why: best valid `metric` (ties: fewer
    false alarms, then a supervised+novelty combination, then the earlier family); without labels,
    UNLABELLED_CHOICE."""
    families = [family for family, _ in candidates]
    if not labelled:
        best = families.index(UNLABELLED_CHOICE) if UNLABELLED_CHOICE in families else 0
        return best, (f"no labels to compare detectors on: {families[best]}, the usual default for unlabelled "
                      "sensor streams")
    sign = 1.0 if direction == "higher" else -1.0

    def key(position: int) -> tuple[float, float, bool]:
        family, metrics = candidates[position]
        value = metrics.get(metric)
        # on a tie, a supervised+novelty combination: it also flags kinds of fault no label shows
        return (sign * value if value is not None else -np.inf, -(metrics.get("false_alarms") or 0), "+" in family)

    best = max(range(len(candidates)), key=key)  # max keeps the first of equal keys
    return best, f"best valid {metric} {_fmt(candidates[best][1].get(metric))}"


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
