"""Slice metrics by text length and by column, and the calibration summary."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from mofang.evaluation.slices import (
    calibration_summary,
    column_slices,
    expected_calibration_error,
    length_buckets,
    length_slices,
)


def test_length_buckets_are_quantiles_with_readable_labels() -> None:
    rng = np.random.default_rng(0)
    texts = ["字" * int(n) for n in rng.integers(3, 80, 400)]
    keys, labels = length_buckets(texts, 4)
    assert labels[0].startswith("≤ ") and labels[-1].startswith("> ") and "–" in labels[1]
    counts = [keys.count(label) for label in labels]
    assert len(labels) == 4 and min(counts) > 80  # roughly equal buckets
    first_edge = int(labels[0].split()[1])
    assert all((len(t) <= first_edge) == (k == labels[0]) for t, k in zip(texts, keys, strict=True))
    assert length_buckets(["ab"] * 5, 4)[1] == ["2 chars"]  # ties leave fewer buckets
    assert length_buckets(["a", "ab", "ab", "abc"], 3)[1] == ["≤ 2 chars", "3 chars"]
    assert length_buckets(["a", "ab", "abc", "abcd"], 4)[1] == ["1 char", "2 chars", "3 chars", "4 chars"]


def test_length_slices_score_each_bucket() -> None:
    texts = ["短"] * 10 + ["长" * 50] * 10
    y_true = [1] * 20
    y_pred = [1] * 10 + [0] * 5 + [1] * 5  # the long texts are half wrong
    rows = length_slices(texts, y_true, y_pred, accuracy_score, buckets=2)
    assert rows == [{"slice": "1 char", "n": 10, "score": 1.0}, {"slice": "50 chars", "n": 10, "score": 0.5}]


def test_column_slices_pool_small_values_and_name_missing_ones() -> None:
    source = ["app"] * 40 + ["web"] * 30 + ["phone"] * 5 + ["mail"] * 3 + [None] * 25
    y_true = np.array([1, 0] * 51 + [1])
    y_pred = y_true.copy()
    y_pred[:20] = 1 - y_pred[:20]  # half of the app rows are wrong
    rows = column_slices(source, y_true, y_pred, accuracy_score, min_support=20)
    assert [(r["slice"], r["n"]) for r in rows] == [("app", 40), ("web", 30), ("(missing)", 25),
                                                    ("(other: 2 values)", 8)]
    assert rows[0]["score"] == 0.5 and rows[1]["score"] == 1.0
    assert sum(r["n"] for r in rows) == len(source)


def test_a_slice_whose_metric_cannot_be_computed_scores_none() -> None:
    rows = column_slices(["a"] * 4 + ["b"] * 4, [0, 1, 0, 1, 1, 1, 1, 1], [0.2, 0.8, 0.3, 0.9] * 2, roc_auc_score,
                         min_support=1)
    assert rows == [{"slice": "a", "n": 4, "score": 1.0}, {"slice": "b", "n": 4, "score": None}]


def test_calibration_summary() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0.5, 1.0, 20_000)
    proba = np.column_stack([p, 1 - p])
    honest = np.where(rng.random(p.size) < p, "neg", "pos")  # right exactly as often as it says
    summary = calibration_summary(proba, honest, ["neg", "pos"], bins=10)
    assert summary["ece"] < 0.02 and summary["n"] == p.size
    assert [b["bin"] for b in summary["bins"]] == list(range(5, 10))  # confidences live in [0.5, 1]
    overconfident = np.where(rng.random(p.size) < 0.6, "neg", "pos")
    assert expected_calibration_error(proba, overconfident, ["neg", "pos"]) > 0.1

    # by hand: two bins, |0.9 − 1| · 2/4 + |0.6 − 0.5| · 2/4 = 0.1
    tiny = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    assert expected_calibration_error(tiny, [0, 0, 1, 0], bins=10) == pytest.approx(0.1)
    quantile = calibration_summary(tiny, [0, 0, 1, 0], bins=2, strategy="quantile")
    assert sum(b["n"] for b in quantile["bins"]) == 4


def test_calibration_of_multi_label_indicators() -> None:
    proba = np.array([[0.9, 0.2], [0.8, 0.1], [0.1, 0.7]])
    indicator = np.array([[1, 0], [1, 0], [0, 1]])
    summary = calibration_summary(proba, indicator, bins=5)
    assert summary["n"] == 6 and 0 < summary["ece"] < 0.25
    with pytest.raises(ValueError, match="3 classes for 2"):
        calibration_summary(proba, [0, 1, 1], ["a", "b", "c"])
