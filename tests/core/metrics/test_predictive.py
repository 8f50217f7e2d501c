"""compute_metrics against scikit-learn on known inputs, and with a class missing from the truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from mofang.core.metrics import compute_metrics


def test_binary_matches_sklearn():
    y = np.array(["no", "yes", "yes", "no", "yes", "no"])
    p_yes = np.array([0.1, 0.8, 0.6, 0.4, 0.3, 0.2])
    proba = np.column_stack([1 - p_yes, p_yes])
    pred = np.where(p_yes > 0.5, "yes", "no")
    m = compute_metrics("tabular-classification", y, pred, proba, ["no", "yes"])
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y == "yes", p_yes))
    assert m["pr_auc"] == pytest.approx(skm.average_precision_score(y == "yes", p_yes))
    assert m["accuracy"] == pytest.approx(5 / 6)
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m["precision_macro"] == pytest.approx(skm.precision_score(y, pred, average="macro"))
    assert m["recall_macro"] == pytest.approx(skm.recall_score(y, pred, average="macro"))
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=["no", "yes"]))


def test_multiclass_one_vs_rest_and_missing_class():
    classes = ["a", "b", "c"]
    y = np.array(["a", "b", "a", "b", "a", "b"])  # "c" never occurs in the truth
    proba = np.array([[.7, .2, .1], [.2, .6, .2], [.5, .3, .2], [.3, .3, .4], [.6, .1, .3], [.1, .8, .1]])
    pred = np.asarray(classes)[proba.argmax(axis=1)]
    m = compute_metrics("tabular-classification", y, pred, proba, classes)
    expected = np.mean([skm.roc_auc_score(y == k, proba[:, i]) for i, k in enumerate("ab")])
    assert m["roc_auc"] == pytest.approx(expected)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, proba, labels=classes))
    assert all(v is None or math.isfinite(v) for v in m.values())


def test_single_class_truth_gives_none_for_ranking_metrics():
    y = np.array(["yes"] * 4)
    proba = np.array([[0.2, 0.8]] * 4)
    m = compute_metrics("tabular-classification", y, y, proba, ["no", "yes"])
    assert m["roc_auc"] is None and m["accuracy"] == 1.0


def test_regression_matches_sklearn():
    y, p = np.array([3.0, -0.5, 2.0, 7.0]), np.array([2.5, 0.0, 2.0, 8.0])
    m = compute_metrics("tabular-regression", y, p)
    assert m["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(y, p)))
    assert m["mae"] == pytest.approx(0.5)
    assert m["r2"] == pytest.approx(skm.r2_score(y, p))
    assert m["mape"] == pytest.approx(skm.mean_absolute_percentage_error(y, p))


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="no metrics"):
        compute_metrics("retrieval-qa", [1], [1])


def test_mape_skips_zero_truths():
    y, p = np.array([0.0, 2.0, 4.0]), np.array([5.0, 1.0, 5.0])
    assert compute_metrics("tabular-regression", y, p)["mape"] == pytest.approx((0.5 + 0.25) / 2)
    assert compute_metrics("tabular-regression", np.zeros(3), np.ones(3))["mape"] is None
