"""Inspection metrics: macro-F1, per-class precision and recall, defect recall (a defective part found as
defective, whichever defect class it is given), the false-alarm rate on defect-free parts, and the confusion
matrix. The defect-free class is named by the order (`good_class`); every other class is a defect."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from mofang.tasks.vision.portable import decide  # noqa: F401 - shared with the edge runner

GOOD_NAMES = ("good", "ok", "free", "normal", "pass", "defect-free", "no-defect", "none", "正常", "合格", "良品")


def guess_good_class(classes: Sequence[str]) -> str | None:
    """The defect-free class when its name says so (`good`, `OK`, `MT_Free`, `normal`, ...), else None."""
    for name in classes:
        lowered = str(name).lower()
        tail = lowered.replace("-", "_").rsplit("_", 1)[-1]
        if lowered in GOOD_NAMES or tail in GOOD_NAMES:
            return str(name)
    return None


def image_metrics(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str] | None = None,
                  good_class: str | None = None, proba: np.ndarray | None = None) -> dict[str, Any]:
    """Every figure of one evaluation. `classes` orders the per-class rows, the confusion matrix and the
    columns of `proba` (default: the sorted labels seen). Without `good_class` the defect figures are None.

    Keys: accuracy, f1_macro, precision_macro, recall_macro, defect_recall, false_alarm_rate, log_loss,
    per_class [{class, precision, recall, f1, support}], confusion {labels, matrix (rows: truth)}, counts."""
    truth = np.asarray(y_true).astype(str)
    pred = np.asarray(y_pred).astype(str)
    labels = [str(c) for c in classes] if classes is not None else sorted(set(truth) | set(pred))
    present = sorted(set(truth))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, f1, support = skm.precision_recall_fscore_support(
            truth, pred, labels=labels, zero_division=0)
        out: dict[str, Any] = {
            "images": int(len(truth)),
            "accuracy": float(skm.accuracy_score(truth, pred)) if len(truth) else None,
            "f1_macro": float(skm.f1_score(truth, pred, labels=present, average="macro", zero_division=0))
            if len(truth) else None,
            "precision_macro": float(skm.precision_score(truth, pred, labels=present, average="macro",
                                                         zero_division=0)) if len(truth) else None,
            "recall_macro": float(skm.recall_score(truth, pred, labels=present, average="macro", zero_division=0))
            if len(truth) else None,
        }
    out.update(defect_figures(truth, pred, good_class))
    out["log_loss"] = _log_loss(truth, proba, labels)
    out["per_class"] = [{"class": c, "precision": float(precision[k]), "recall": float(recall[k]),
                         "f1": float(f1[k]), "support": int(support[k])} for k, c in enumerate(labels)]
    out["confusion"] = {"labels": labels,
                        "matrix": skm.confusion_matrix(truth, pred, labels=labels).tolist() if len(truth)
                        else [[0] * len(labels) for _ in labels]}
    return out


def defect_figures(y_true: Sequence[str], y_pred: Sequence[str], good_class: str | None) -> dict[str, Any]:
    """defect_recall: share of defective images (truth not `good_class`) predicted as any defect;
    false_alarm_rate: share of defect-free images predicted as a defect; and the counts behind both."""
    if good_class is None:
        return {"good_class": None, "defect_recall": None, "false_alarm_rate": None}
    truth = np.asarray(y_true).astype(str) != str(good_class)
    flagged = np.asarray(y_pred).astype(str) != str(good_class)
    defects, goods = int(truth.sum()), int((~truth).sum())
    return {"good_class": str(good_class),
            "defect_recall": float((flagged & truth).sum() / defects) if defects else None,
            "false_alarm_rate": float((flagged & ~truth).sum() / goods) if goods else None,
            "defects": defects, "defects_missed": int((~flagged & truth).sum()),
            "good": goods, "false_alarms": int((flagged & ~truth).sum())}


def _log_loss(truth: np.ndarray, proba: np.ndarray | None, labels: list[str]) -> float | None:
    if proba is None or not len(truth) or not set(truth) <= set(labels):
        return None
    proba = np.clip(np.asarray(proba, dtype=float), 1e-12, 1)
    rows = np.array([labels.index(t) for t in truth])
    return float(-np.mean(np.log(proba[np.arange(len(truth)), rows] / proba.sum(axis=1))))


def mask_iou(predicted: Sequence[np.ndarray], truth: Sequence[np.ndarray | None], threshold: float = 0.5) -> \
        float | None:
    """Mean intersection over union of predicted defect maps (probabilities) and true masks, over the images
    whose true mask has a defect; None when none has."""
    scores = []
    for prob, mask in zip(predicted, truth, strict=True):
        if mask is None or not mask.any():
            continue
        guess = np.asarray(prob) >= threshold
        union = (guess | mask).sum()
        scores.append((guess & mask).sum() / union if union else 1.0)
    return float(np.mean(scores)) if scores else None


GOOD_MIN_GRID = (None, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)  # None: the most probable class


def choose_good_min(proba: np.ndarray, y_true: Sequence[str], classes: Sequence[str], good_class: str | None,
                    target_recall: float = 0.98, grid: Sequence[float | None] = GOOD_MIN_GRID) -> float | None:
    """The P(good) an image needs to be called good, chosen on validation images: of the thresholds whose
    defect recall reaches `target_recall`, the one with the best macro-F1; when none reaches it, the one with
    the best recall (then macro-F1). None: the most probable class (also without a good class)."""
    if good_class is None or str(good_class) not in [str(c) for c in classes]:
        return None
    best: tuple[float, float, float] | None = None
    chosen = None
    for threshold in grid:
        pred = decide(proba, classes, good_class, threshold)
        figures = image_metrics(y_true, pred, classes, good_class)
        recall = figures["defect_recall"] if figures["defect_recall"] is not None else 1.0
        key = (float(recall >= target_recall), recall if recall < target_recall else 0.0, figures["f1_macro"] or 0)
        if best is None or key > best:
            best, chosen = key, threshold
    return chosen
