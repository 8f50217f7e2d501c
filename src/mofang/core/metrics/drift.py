"""Drift statistics: reference profiles of features and predictions, PSI and the two-sample KS statistic.

A profile is plain JSON (kept in the bundle as `reference.json`). Numeric features: decile bins plus a
missing bin (for PSI) and 101 quantiles (for KS); categorical ones: the 20 most frequent values, "other" and
missing; text: the share of each of 64 hashed character-bigram buckets (a cheap stand-in for an embedding
centroid that any served text can be compared on without a model).
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

TOP_CATEGORIES = 20
TEXT_BUCKETS = 64
QUANTILES = 101
_EPS = 1e-4
OTHER, MISSING_BIN = "__other__", "__missing__"


def numeric_profile(values: Sequence[float]) -> dict[str, Any]:
    x = np.asarray(values, dtype=float)
    present = x[~np.isnan(x)]
    if not len(present):
        return {"kind": "numeric", "edges": [], "quantiles": [], "probs": [1.0]}
    edges = np.unique(np.quantile(present, np.linspace(0.1, 0.9, 9), method="inverted_cdf")).tolist()
    profile: dict[str, Any] = {"kind": "numeric", "edges": edges,
               "quantiles": np.quantile(present, np.linspace(0, 1, QUANTILES), method="inverted_cdf").tolist()}
    profile["probs"] = numeric_histogram(profile, x)
    return profile


def numeric_histogram(profile: dict[str, Any], values: Sequence[float] | np.ndarray) -> list[float]:
    """Shares of values per bin of the profile: len(edges)+1 value bins, then the missing bin."""
    x = np.asarray(values, dtype=float)
    missing = np.isnan(x)
    bins = np.searchsorted(np.asarray(profile["edges"], dtype=float), x[~missing], side="right")
    counts = np.bincount(bins, minlength=len(profile["edges"]) + 1).astype(float).tolist() + [float(missing.sum())]
    return _shares(counts)


def categorical_profile(values: Iterable[Any], categories: Sequence[str] | None = None) -> dict[str, Any]:
    """The most frequent values (or the given ones, e.g. a classifier's classes) and their shares."""
    labels = [_label(v) for v in values]
    if categories is None:
        counts = Counter(v for v in labels if v is not None)
        categories = [c for c, _ in counts.most_common(TOP_CATEGORIES)]
    profile: dict[str, Any] = {"kind": "categorical", "categories": [str(c) for c in categories]}
    profile["probs"] = categorical_histogram(profile, labels)
    return profile


def categorical_histogram(profile: dict[str, Any], values: Iterable[Any]) -> list[float]:
    index = {c: i for i, c in enumerate(profile["categories"])}
    counts = [0.0] * (len(index) + 2)  # the categories, other, missing
    for value in values:
        label = _label(value)
        counts[len(index) + 1 if label is None else index.get(label, len(index))] += 1
    return _shares(counts)


def text_profile(values: Iterable[Any]) -> dict[str, Any]:
    return {"kind": "text", "buckets": TEXT_BUCKETS, "probs": text_histogram(values)}


def text_histogram(values: Iterable[Any], buckets: int = TEXT_BUCKETS) -> list[float]:
    """Share of character bigrams (over every text) falling in each hashed bucket, then one for missing texts."""
    counts = [0.0] * (buckets + 1)
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)) or not str(value).strip():
            counts[buckets] += 1
            continue
        text = str(value)
        for i in range(max(1, len(text) - 1)):
            counts[zlib.crc32(text[i:i + 2].encode("utf-8")) % buckets] += 1
    return _shares(counts)


def histogram(profile: dict[str, Any], values: Sequence[Any]) -> list[float]:
    """Served values binned like the profile."""
    kind = profile["kind"]
    if kind == "numeric":
        return numeric_histogram(profile, values)
    if kind == "text":
        return text_histogram(values, profile["buckets"])
    return categorical_histogram(profile, values)


def psi(expected: Sequence[float], observed: Sequence[float]) -> float:
    """Population stability index of two histograms over the same bins (shares smoothed away from zero)."""
    e = np.asarray(expected, dtype=float) + _EPS
    o = np.asarray(observed, dtype=float) + _EPS
    e, o = e / e.sum(), o / o.sum()
    return float(np.sum((o - e) * np.log(o / e)))


def ks_statistic(quantiles: Sequence[float], values: Sequence[float]) -> float | None:
    """Two-sample KS statistic between the reference (its quantile grid, read as an empirical CDF) and served
    values, both right-continuous step functions; None when either side has no values."""
    q = np.asarray(quantiles, dtype=float)
    x = np.asarray(values, dtype=float)
    x = np.sort(x[~np.isnan(x)])
    if not len(q) or not len(x):
        return None
    points = np.concatenate([q, x])
    reference = np.searchsorted(q, points, side="right") / len(q)
    served = np.searchsorted(x, points, side="right") / len(x)
    return float(np.max(np.abs(reference - served)))


def _shares(counts: list[float]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def _label(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None
