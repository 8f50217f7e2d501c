"""Candidate: one fitted model of any family behind one interface (predict, save, size, latency)."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from mofang.models.features import SMALL_BATCH, FeaturePipeline

CLASSIFICATION = "tabular-classification"


class Candidate:
    """A fitted model: its feature pipeline, its estimator and, for classification, its classes.

    Classification estimators are trained on class indices (0..k-1 into `classes_`), so every family
    answers in the original class strings and `predict_proba` columns follow `classes_`.
    """

    def __init__(self, name: str, family: str, task: str, params: dict[str, Any],
                 features: list[dict[str, Any]], pipeline: FeaturePipeline, estimator: Any,
                 classes: list[str] | None = None) -> None:
        self.name = name
        self.family = family
        self.task = task
        self.params = dict(params)
        self.features = [dict(f) for f in features]
        self.pipeline_ = pipeline
        self.estimator_ = estimator
        self.classes_ = list(classes) if classes is not None else None
        self.threshold_: float | None = None  # binary decision threshold tuned on valid, if any

    @property
    def is_classifier(self) -> bool:
        return self.task == CLASSIFICATION

    # -- predicting ------------------------------------------------------------------------------
    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Class labels (original strings) or regression values (floats) for the rows of `df`."""
        if self.is_classifier:
            return self.labels(self.predict_proba(df))
        X = self.pipeline_.transform(df)
        booster = self._small_batch_booster(X)
        if booster is not None:
            return np.asarray(booster.predict(X, num_threads=1), dtype=float)
        return np.asarray(self.estimator_.predict(X), dtype=float)

    def labels(self, proba: np.ndarray) -> np.ndarray:
        """Class labels from probabilities: the most probable class, or for a binary model with a
        tuned decision threshold, the second class when its probability reaches the threshold."""
        threshold = getattr(self, "threshold_", None)
        if threshold is not None and proba.shape[1] == 2:
            index = (proba[:, 1] >= threshold).astype(int)
        else:
            index = proba.argmax(axis=1)
        return np.asarray(self.classes_, dtype=object)[index]

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n, len(classes_)), columns in the order of `classes_`."""
        if not self.is_classifier:
            raise TypeError(f"{self.name} is a regression model; it has no predict_proba")
        return self.proba_from_matrix(self.pipeline_.transform(df))

    def proba_from_matrix(self, X: Any) -> np.ndarray:
        """`predict_proba` on an already-transformed model input."""
        booster = self._small_batch_booster(X)
        if booster is not None:
            raw = np.asarray(booster.predict(X, num_threads=1), dtype=float)
            if raw.ndim == 1:  # binary: the booster answers P(class 1)
                raw = np.column_stack([1.0 - raw, raw])
        else:
            raw = np.asarray(self.estimator_.predict_proba(X), dtype=float)
        # an estimator only knows the class indices it saw in training; place them in the full list
        full = np.zeros((raw.shape[0], len(self.classes_)))
        full[:, np.asarray(self.estimator_.classes_, dtype=int)] = raw
        return full

    def _small_batch_booster(self, X: Any) -> Any:
        """LightGBM's booster for a served-size batch: the sklearn wrapper adds ~0.5 ms of checks per
        call and wakes every core, which one row does not need (same numbers, tested)."""
        if len(X) > SMALL_BATCH:
            return None
        return getattr(self.estimator_, "booster_", None)

    # -- explaining ------------------------------------------------------------------------------
    def feature_importance(self) -> dict[str, float]:
        """Importance per source column (LightGBM gain, linear |coef|), largest first; empty if none."""
        raw = _raw_importance(self.estimator_)
        if raw is None:
            return {}
        totals: dict[str, float] = {}
        for source, value in zip(self.pipeline_.sources_, raw, strict=True):
            totals[source] = totals.get(source, 0.0) + float(value)
        return dict(sorted(totals.items(), key=lambda kv: kv[1], reverse=True))

    # -- persisting and measuring ----------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path, compress=3)
        return path

    @classmethod
    def load(cls, path: str | Path | io.BytesIO) -> Candidate:
        """A saved candidate from a path, or from its bytes (decrypted from an encrypted bundle)."""
        obj = joblib.load(path if isinstance(path, io.BytesIO) else Path(path))
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a Candidate")
        return obj

    @staticmethod
    def size_mb(path: str | Path) -> float:
        """Size of a saved candidate in MiB."""
        return Path(path).stat().st_size / (1024 * 1024)

    def measure_latency(self, rows: pd.DataFrame, n: int = 200, max_seconds: float = 5.0) -> dict[str, float]:
        """p50/p95 milliseconds of one-row `predict` calls (the served path, coercion included)."""
        if len(rows) == 0:
            return {"p50_ms": float("nan"), "p95_ms": float("nan")}
        singles = [rows.iloc[[i]] for i in range(min(len(rows), n))]
        self.predict(singles[0])  # warm-up: first calls pay for lazy imports and caches
        timings: list[float] = []
        stop = time.perf_counter() + max_seconds
        for i in range(n):
            started = time.perf_counter()
            self.predict(singles[i % len(singles)])
            timings.append((time.perf_counter() - started) * 1000.0)
            if started > stop and len(timings) >= 20:
                break
        return {"p50_ms": float(np.percentile(timings, 50)), "p95_ms": float(np.percentile(timings, 95))}

    def __repr__(self) -> str:
        return f"Candidate(name={self.name!r}, family={self.family!r}, task={self.task!r})"


def _raw_importance(estimator: Any) -> np.ndarray | None:
    booster = getattr(estimator, "booster_", None)
    if booster is not None:
        return np.asarray(booster.feature_importance(importance_type="gain"), dtype=float)
    coef = getattr(estimator, "coef_", None)
    if coef is not None:
        coef = np.abs(np.atleast_2d(np.asarray(coef, dtype=float)))
        return coef.mean(axis=0)
    return None
