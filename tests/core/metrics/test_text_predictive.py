"""Text-classification metrics (single- and multi-label), the per-class report and the report's plots."""

from __future__ import annotations

import numpy as np
import pytest

from mofang.core.metrics.predictive import compute_metrics, per_class_report
from mofang.evaluation.plots import classification_plots, multilabel_plots
from mofang.evaluation.report import render_report

PNG = b"\x89PNG"


def test_single_label_text_metrics_include_micro_f1() -> None:
    y_true = ["教育", "医疗", "交通", "教育"]
    y_pred = ["教育", "交通", "交通", "教育"]
    proba = np.array([[0.1, 0.1, 0.8], [0.6, 0.3, 0.1], [0.7, 0.2, 0.1], [0.2, 0.1, 0.7]])
    values = compute_metrics("text-classification", y_true, y_pred, proba, ["交通", "医疗", "教育"])
    assert values["accuracy"] == values["f1_micro"] == 0.75
    assert values["hamming_loss"] is None and values["roc_auc"] is not None
    tabular = compute_metrics("tabular-classification", y_true, y_pred, proba, ["交通", "医疗", "教育"])
    assert "f1_micro" not in tabular and tabular["f1_macro"] == values["f1_macro"]


def test_multi_label_metrics_by_hand() -> None:
    classes = ["a", "b", "c"]
    y_true = [["a"], ["a", "b"], ["c"], ["b", "c"]]
    y_pred = [["a"], ["a"], ["c", "b"], ["b", "c"]]
    values = compute_metrics("text-classification", y_true, y_pred, None, classes, multi_label=True)
    # decisions: 12 (row, label) pairs, 2 wrong (row 2 misses b, row 3 adds b)
    assert values["hamming_loss"] == pytest.approx(2 / 12)
    assert values["accuracy"] == pytest.approx(2 / 4)  # subset accuracy: rows 1 and 4
    # tp=5, fp=1, fn=1 → micro F1 = 10 / 12; per label F1: a 1, b 0.5, c 1
    assert values["f1_micro"] == pytest.approx(10 / 12)
    assert values["f1_macro"] == pytest.approx(2.5 / 3)
    proba = np.array([[0.9, 0.1, 0.1], [0.8, 0.4, 0.1], [0.1, 0.6, 0.9], [0.2, 0.7, 0.8]])
    with_proba = compute_metrics("text-classification", y_true, y_pred, proba, classes, multi_label=True)
    assert with_proba["roc_auc"] is not None and 0 < with_proba["log_loss"] < 1


def test_per_class_report_single_and_multi_label() -> None:
    rows = per_class_report(["教育", "医疗", "教育"], ["教育", "教育", "教育"], ["医疗", "教育"])
    assert rows[0] == {"class": "医疗", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert rows[1]["recall"] == 1.0 and rows[1]["support"] == 2
    multi = per_class_report([["a", "b"], ["b"]], [["a"], ["b"]], ["a", "b"], multi_label=True)
    assert [r["support"] for r in multi] == [1, 2] and multi[1]["recall"] == 0.5


def test_plots_for_text_models() -> None:
    rng = np.random.default_rng(0)
    classes = ["教育", "医疗", "交通"]
    y_true = np.asarray(rng.choice(classes, 90), dtype=object)
    proba = rng.dirichlet(np.ones(3), 90)
    y_pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    plots = classification_plots(y_true, y_pred, proba, classes, {'"学校"': 2.0, '"医院"': 1.0})
    assert {"confusion_matrix", "calibration", "roc_curve", "feature_importance"} <= set(plots)
    truth = rng.integers(0, 2, (90, 3))
    proba = rng.random((90, 3))
    multi = multilabel_plots(truth, (proba > 0.5).astype(int), proba, classes, {})
    assert set(multi) == {"roc_curve", "pr_curve", "per_class_f1", "calibration"}
    assert all(png.startswith(PNG) for png in [*plots.values(), *multi.values()])


def test_report_shows_the_per_class_table() -> None:
    from types import SimpleNamespace

    content = {"order": SimpleNamespace(id="gov", tenant="city"), "job_id": 1, "task": "text-classification",
               "dataset": {"classes": ["交通", "教育"], "features": [{"name": "留言", "kind": "text"}]},
               "winner": {"name": "tfidf-linear", "family": "tfidf-linear"}, "metrics": {"f1_macro": 0.9},
               "primary_metric": "f1_macro", "metric_names": ["f1_macro"], "gate": {"checks": []},
               "verdict": "accepted", "leaderboard": [], "reasons": [],
               "per_class": [{"class": "交通", "precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 12}]}
    html = render_report(content, {})
    assert "Per-class report" in html and "<td>交通</td>" in html and "0.8500" in html
