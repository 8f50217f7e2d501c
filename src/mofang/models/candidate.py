"""Candidate: one fitted model of any family behind one interface (predict, save, size, latency)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from mofang.models.features import SMALL_BATCH, FeaturePipeline
from mofang.models.labels import as_object_array, is_classification, label_lists
from mofang.models.saved import SavedModel

TOP_TERMS = 30  # text models: the importance report lists this many n-grams


class Candidate(SavedModel):
    """A fitted model: its feature pipeline, its estimator and, for classification, its classes.

    Classification estimators are trained on class indices (0..k-1 into `classes_`), so every family
    answers in the original class strings and `predict_proba` columns follow `classes_`. A multi-label
    estimator is trained on a 0/1 matrix (rows × classes) and answers one probability per class; its
    predictions are label lists (every class at or above the decision threshold, at least the most
    probable one when every training row had a label).
    """

    def __init__(self, name: str, family: str, task: str, params: dict[str, Any],
                 features: list[dict[str, Any]], pipeline: FeaturePipeline | Any, estimator: Any,
                 classes: list[str] | None = None, multi_label: bool = False,
                 label_separator: str = "|") -> None:
        self.name = name
        self.family = family
        self.task = task
        self.params = dict(params)
        self.features = [dict(f) for f in features]
        self.pipeline_ = pipeline
        self.estimator_ = estimator
        self.classes_ = list(classes) if classes is not None else None
        self.threshold_: float | None = None  # decision threshold tuned on valid, if any
        self.multi_label = multi_label
        self.label_separator = label_separator
        self.at_least_one_ = True  # multi-label: always answer one label (every training row had one)

    @property
    def is_classifier(self) -> bool:
        return is_classification(self.task)

    @property
    def is_multi_label(self) -> bool:
        return bool(getattr(self, "multi_label", False))

    def truth(self, values: Any) -> np.ndarray:
        """Target values as the model answers them: strings, or label lists for a multi-label model."""
        if self.is_multi_label:
            return as_object_array(label_lists(values, self.label_separator))
        return np.asarray(pd.Series(values).astype(str).to_numpy(), dtype=object)

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
        tuned decision threshold, the second class when its probability reaches the threshold;
        multi-label: the list of classes whose probability reaches the threshold (0.5 by default)."""
        threshold = getattr(self, "threshold_", None)
        if self.is_multi_label:
            return self.label_lists(proba, 0.5 if threshold is None else threshold)
        if threshold is not None and proba.shape[1] == 2:
            index = (proba[:, 1] >= threshold).astype(int)
        else:
            index = proba.argmax(axis=1)
        return np.asarray(self.classes_, dtype=object)[index]

    def label_lists(self, proba: np.ndarray, threshold: float) -> np.ndarray:
        """Multi-label decisions at `threshold`, as a 1-D object array of label lists."""
        chosen = proba >= threshold
        if getattr(self, "at_least_one_", True) and len(proba):
            empty = ~chosen.any(axis=1)
            chosen[empty, proba[empty].argmax(axis=1)] = True
        classes = list(self.classes_ or [])
        return as_object_array([[classes[k] for k in np.flatnonzero(row)] for row in chosen])

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
        known = getattr(self.estimator_, "classes_", None)
        if raw.shape[1] == len(self.classes_) and (known is None or self.is_multi_label):
            return raw
        full = np.zeros((raw.shape[0], len(self.classes_)))
        full[:, np.asarray(known, dtype=int)] = raw
        return full

    def _small_batch_booster(self, X: Any) -> Any:
        """LightGBM's booster for a served-size batch: the sklearn wrapper adds ~0.5 ms of checks per
        call and wakes every core, which one row does not need (same numbers, tested)."""
        if X.shape[0] > SMALL_BATCH or getattr(X, "ndim", 2) != 2:
            return None
        return getattr(self.estimator_, "booster_", None)

    # -- explaining ------------------------------------------------------------------------------
    def feature_importance(self) -> dict[str, float]:
        """Importance per source column (LightGBM gain, linear |coef|), largest first; for a text model,
        the top n-grams (and other columns); empty if the family has none."""
        raw = _raw_importance(self.estimator_)
        terms = getattr(self.pipeline_, "terms_", None)
        names = terms if terms is not None else self.pipeline_.sources_
        if raw is None or len(raw) != len(names):
            return {}
        totals: dict[str, float] = {}
        for source, value in zip(names, raw, strict=True):
            totals[source] = totals.get(source, 0.0) + float(value)
        ranked = sorted(totals.items(), key=lambda kv: kv[1], reverse=True)
        return dict(ranked[:TOP_TERMS] if terms is not None else ranked)

    # -- persisting and measuring ----------------------------------------------------------------
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
    parts = getattr(estimator, "estimators_", None)  # one-vs-rest: the mean over the per-class models
    if isinstance(parts, list) and parts and not hasattr(estimator, "coef_"):
        found = [_raw_importance(p) for p in parts]
        found = [f for f in found if f is not None]
        if not found or len({len(f) for f in found}) != 1:
            return None
        return np.mean(found, axis=0)
    booster = getattr(estimator, "booster_", None)
    if booster is not None:
        return np.asarray(booster.feature_importance(importance_type="gain"), dtype=float)
    coef = getattr(estimator, "coef_", None)
    if coef is not None:
        coef = np.abs(np.atleast_2d(np.asarray(coef, dtype=float)))
        return coef.mean(axis=0)
    return None
