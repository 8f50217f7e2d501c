"""Slice metrics: a score per text-length bucket or per value of a column, and a calibration summary (ECE).

    length_slices(texts, y_true, y_pred, f1_macro, buckets=4)
        → [{"slice": "≤ 12 chars", "n": 130, "score": 0.81}, {"slice": "13–25 chars", ...}, ...]
    column_slices(frame["来源"], y_true, y_pred, f1_macro, min_support=30)
        → one row per value with at least 30 rows (largest first), then "(other: 4 values)" for the rest
    calibration_summary(proba, y_true, classes, bins=10)
        → {"ece": 0.031, "mce": 0.09, "bins": [{"bin", "low", "high", "n", "confidence", "accuracy"}, ...]}

`metric_fn(y_true, y_pred)` decides the score, so multi-label works as it does for the whole test set
(pass lists of labels or indicator rows). A slice whose score cannot be computed (`metric_fn` raises
ValueError, e.g. an AUC on a slice holding one class) scores None.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

MetricFn = Callable[[Any, Any], float]
MISSING = "(missing)"


def slice_metrics(keys: Sequence[Any], y_true: Any, y_pred: Any, metric_fn: MetricFn, *,
                  order: Sequence[str] | None = None, min_support: int = 1) -> list[dict[str, Any]]:
    """One row {slice, n, score} per distinct key (missing keys as "(missing)"); slices in `order` if given,
    else largest first. Keys with fewer than `min_support` rows are pooled into one "(other: k values)" row."""
    labels = [_key(k) for k in keys]
    if len(labels) != len(y_true) or len(labels) != len(y_pred):
        raise ValueError(f"keys, y_true and y_pred differ in length ({len(labels)}, {len(y_true)}, {len(y_pred)})")
    groups: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    names = list(order) if order is not None else sorted(groups, key=lambda g: (-len(groups[g]), g))
    rows, small = [], []
    for name in names:
        members = groups.get(name, [])
        if len(members) >= max(1, min_support):
            rows.append(_row(name, members, y_true, y_pred, metric_fn))
        elif members:
            small.append(name)
    if small:
        members = sorted(i for name in small for i in groups[name])
        rows.append(_row(f"(other: {len(small)} value{'s' if len(small) > 1 else ''})", members, y_true, y_pred,
                         metric_fn))
    return rows


def _key(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "":
        return MISSING
    return str(value)


def _row(name: str, members: list[int], y_true: Any, y_pred: Any, metric_fn: MetricFn) -> dict[str, Any]:
    score = _score(metric_fn, _take(y_true, members), _take(y_pred, members))
    return {"slice": name, "n": len(members), "score": score}


def _take(values: Any, rows: list[int]) -> Any:
    if isinstance(values, np.ndarray):
        return values[rows]
    if hasattr(values, "iloc"):
        return values.iloc[rows]
    return [values[i] for i in rows]


def _score(metric_fn: MetricFn, y_true: Any, y_pred: Any) -> float | None:
    try:
        with warnings.catch_warnings():  # e.g. sklearn's "only one class present" on a small slice
            warnings.simplefilter("ignore")
            score = float(metric_fn(y_true, y_pred))
    except ValueError:
        return None
    return score if math.isfinite(score) else None


def length_buckets(texts: Sequence[str], buckets: int = 4) -> tuple[list[str], list[str]]:
    """Each text's length bucket (quantile edges on the character count) and the bucket labels in order:
    "≤ 12 chars", "13–25 chars", "> 60 chars" (a bucket of one length: "26 chars"). Ties may leave fewer
    buckets than asked."""
    lengths = np.array([len(str(t)) for t in texts])
    if lengths.size == 0:
        return [], []
    inner = np.quantile(lengths, np.linspace(0, 1, buckets + 1)[1:-1], method="lower") if buckets > 1 else []
    edges = sorted({int(e) for e in inner} - {int(lengths.max())})  # upper bounds of all but the last bucket
    which = np.searchsorted(edges, lengths, side="left")
    labels = [_bucket_label(k, edges, lengths[which == k]) for k in range(len(edges) + 1)]
    return [labels[k] for k in which], labels


def _bucket_label(k: int, edges: list[int], lengths: np.ndarray) -> str:
    low, high = int(lengths.min()), int(lengths.max())
    if low == high:
        return f"{low} char{'s' if low != 1 else ''}"
    if k == 0:
        return f"≤ {edges[0]} chars"
    if k == len(edges):
        return f"> {edges[-1]} chars"
    return f"{edges[k - 1] + 1}–{edges[k]} chars"


def length_slices(texts: Sequence[str], y_true: Any, y_pred: Any, metric_fn: MetricFn, *, buckets: int = 4,
                  min_support: int = 1) -> list[dict[str, Any]]:
    """{slice, n, score} per text-length bucket (quantile buckets, shortest first)."""
    keys, order = length_buckets(texts, buckets)
    return slice_metrics(keys, y_true, y_pred, metric_fn, order=order, min_support=min_support)


def column_slices(values: Sequence[Any], y_true: Any, y_pred: Any, metric_fn: MetricFn, *,
                  min_support: int = 20) -> list[dict[str, Any]]:
    """{slice, n, score} per value of a categorical column (e.g. source, department), largest first; values
    with fewer than `min_support` rows are pooled into "(other: k values)", missing ones into "(missing)"."""
    return slice_metrics(list(values), y_true, y_pred, metric_fn, min_support=min_support)


def calibration_summary(proba: np.ndarray, y_true: Any, classes: Sequence[Any] | None = None, *, bins: int = 10,
                        strategy: str = "uniform") -> dict[str, Any]:
    """Expected (ECE) and maximum (MCE) calibration error with the per-bin table.

    Single-label: `proba` is (n, k) with columns in `classes` order (default 0..k-1); the top-label
    confidence is compared with whether the top label is right. Multi-label: `y_true` is an (n, k) 0/1
    indicator and every (row, label) probability is compared with its outcome. Bins are equal-width
    (`strategy="uniform"`) or equal-count ("quantile"); empty bins are left out.
    """
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or len(proba) != len(y_true):
        raise ValueError(f"proba must be (n, k) with n = len(y_true) = {len(y_true)}; got shape {proba.shape}")
    truth = np.asarray(y_true)
    if truth.ndim == 2:
        confidence, correct = proba.ravel(), truth.astype(float).ravel()
    else:
        columns = list(classes) if classes is not None else list(range(proba.shape[1]))
        if len(columns) != proba.shape[1]:
            raise ValueError(f"{len(columns)} classes for {proba.shape[1]} probability columns")
        top = proba.argmax(axis=1)
        confidence = proba[np.arange(len(proba)), top]
        predicted = np.asarray(columns, dtype=object)[top]
        correct = np.array([str(p) == str(t) for p, t in zip(predicted, truth, strict=True)], dtype=float)
    return _binned(confidence, correct, bins, strategy)


def _binned(confidence: np.ndarray, correct: np.ndarray, bins: int, strategy: str) -> dict[str, Any]:
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    elif strategy == "quantile":
        edges = np.unique(np.quantile(confidence, np.linspace(0, 1, bins + 1))) if confidence.size else np.array([0, 1])
        edges[0], edges[-1] = 0.0, 1.0
    else:
        raise ValueError(f"unknown strategy {strategy!r} (expected: uniform, quantile)")
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, len(edges) - 2)
    rows, ece, mce = [], 0.0, 0.0
    for b in range(len(edges) - 1):
        inside = which == b
        n = int(inside.sum())
        if not n:
            continue
        conf, acc = float(confidence[inside].mean()), float(correct[inside].mean())
        ece += n / confidence.size * abs(conf - acc)
        mce = max(mce, abs(conf - acc))
        rows.append({"bin": b, "low": round(float(edges[b]), 6), "high": round(float(edges[b + 1]), 6), "n": n,
                     "confidence": conf,
                     "accuracy": acc})
    return {"ece": ece if rows else None, "mce": mce if rows else None, "n": int(confidence.size), "bins": rows}


def expected_calibration_error(proba: np.ndarray, y_true: Any, classes: Sequence[Any] | None = None, *,
                               bins: int = 10) -> float | None:
    """The ECE alone (equal-width bins); None for no rows."""
    return calibration_summary(proba, y_true, classes, bins=bins)["ece"]
