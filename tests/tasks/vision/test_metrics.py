"""Inspection metrics: defect recall counts any defect class as found; false alarms are on good parts only."""

from __future__ import annotations

import numpy as np
import pytest

from mofang.tasks.vision.metrics import defect_figures, guess_good_class, image_metrics, mask_iou


def test_defect_recall_and_false_alarms() -> None:
    truth = ["ok", "ok", "ok", "ok", "crack", "crack", "hole", "hole"]
    pred = ["ok", "ok", "ok", "hole", "hole", "ok", "hole", "crack"]
    out = image_metrics(truth, pred, classes=["crack", "hole", "ok"], good_class="ok")
    assert out["defect_recall"] == pytest.approx(3 / 4)  # a crack called a hole is still found
    assert out["false_alarm_rate"] == pytest.approx(1 / 4)
    assert (out["defects"], out["defects_missed"], out["good"], out["false_alarms"]) == (4, 1, 4, 1)
    assert out["accuracy"] == pytest.approx(4 / 8)
    rows = {r["class"]: r for r in out["per_class"]}
    assert rows["hole"]["recall"] == pytest.approx(1 / 2) and rows["hole"]["precision"] == pytest.approx(1 / 3)
    assert rows["ok"]["recall"] == pytest.approx(3 / 4) and rows["ok"]["support"] == 4
    f1 = [2 * p * r / (p + r) if p + r else 0 for p, r in ((0, 0), (1 / 3, 1 / 2), (3 / 4, 3 / 4))]
    assert out["f1_macro"] == pytest.approx(np.mean(f1))
    assert out["confusion"] == {"labels": ["crack", "hole", "ok"], "matrix": [[0, 1, 1], [1, 1, 0], [0, 1, 3]]}


def test_without_a_good_class_there_are_no_defect_figures_and_log_loss_uses_the_columns() -> None:
    out = image_metrics(["a", "b"], ["a", "a"], classes=["a", "b"], proba=np.array([[0.9, 0.1], [0.6, 0.4]]))
    assert out["defect_recall"] is None and out["false_alarm_rate"] is None
    assert out["log_loss"] == pytest.approx(-(np.log(0.9) + np.log(0.4)) / 2)
    assert defect_figures(["bad"], ["bad"], "good")["false_alarm_rate"] is None  # no good part to alarm on


def test_the_good_class_is_guessed_from_its_name() -> None:
    assert guess_good_class(["MT_Blowhole", "MT_Free", "MT_Crack"]) == "MT_Free"
    assert guess_good_class(["scratch", "good"]) == "good" and guess_good_class(["OK", "NG"]) == "OK"
    assert guess_good_class(["cat", "dog"]) is None


def test_mask_iou_over_defective_images_only() -> None:
    mask = np.zeros((4, 4), dtype=bool)
    mask[:2, :2] = True
    guess = np.zeros((4, 4))
    guess[:2, :4] = 0.9
    assert mask_iou([guess, guess], [mask, np.zeros((4, 4), dtype=bool)]) == pytest.approx(4 / 8)
    assert mask_iou([guess], [None]) is None


def test_a_good_threshold_trades_false_alarms_for_defect_recall() -> None:
    from mofang.tasks.vision.metrics import choose_good_min, decide

    classes = ["crack", "good", "hole"]
    proba = np.array([[0.1, 0.85, 0.05], [0.35, 0.6, 0.05], [0.05, 0.55, 0.4], [0.7, 0.2, 0.1], [0.0, 0.99, 0.01]])
    truth = ["good", "crack", "hole", "crack", "good"]
    assert decide(proba, classes).tolist() == ["good", "good", "good", "crack", "good"]
    assert decide(proba, classes, "good", 0.7).tolist() == ["good", "crack", "hole", "crack", "good"]
    assert choose_good_min(proba, truth, classes, "good") == 0.7  # the first threshold finding every defect
    assert choose_good_min(proba, truth, classes, None) is None
