"""Metrics of tabular and text tasks, computed the same way for tuning, selection, gates and reports."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn import metrics as skm

from mofang.core.tasks import spec as task_spec

REGRESSION_METRICS = frozenset({"rmse", "mae", "r2", "mape"})


def label_metrics(y_true: Sequence, y_pred: Sequence, classes: Sequence[str]) -> dict[str, float | None]:
    """The metrics of single-label predictions without probabilities (accuracy, macro F1, precision, recall)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = _classification(np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str), None, list(classes))
    return {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in values.items()}


def compute_metrics(task: str, y_true: Sequence, y_pred: Sequence, proba: np.ndarray | None = None,
                    classes: Sequence[str] | None = None, multi_label: bool = False) -> dict[str, float | None]:
    """All metrics of the task; a metric that cannot be computed (e.g. roc_auc when the truth holds
    one class only) is None, so results stay valid JSON. Multi-label: `y_true`/`y_pred` hold label
    lists, `proba` one probability per class; accuracy is subset accuracy."""
    spec = task_spec(str(getattr(task, "value", task)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if spec.classes and multi_label:
            values = _multi_label(list(y_true), list(y_pred), proba, list(classes or []))
        elif spec.classes:
            truth, pred = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
            values = _classification(truth, pred, proba, list(classes or []))
            # single-label: micro F1 over every class is accuracy; Hamming loss is multi-label only
            if "f1_micro" in spec.metrics:
                values["f1_micro"] = values["accuracy"] if len(truth) else None
            if "hamming_loss" in spec.metrics:
                values["hamming_loss"] = None
        elif REGRESSION_METRICS & set(spec.metrics):
            values = _regression(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float))
        else:
            raise ValueError(f"no metrics for task {spec.name!r} here (its metrics are not predictive: "
                             f"{', '.join(spec.metrics)})")
    return {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in values.items()}


def _classification(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None,
                    classes: list[str]) -> dict[str, float | None]:
    classes = classes or sorted(set(y_true) | set(y_pred))
    present = sorted(set(y_true))
    out: dict[str, float | None] = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "f1_macro": skm.f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0),
        "precision_macro": skm.precision_score(y_true, y_pred, labels=present, average="macro",
                                               zero_division=0),
        "recall_macro": skm.recall_score(y_true, y_pred, labels=present, average="macro", zero_division=0),
        "roc_auc": None, "pr_auc": None, "log_loss": None,
    }
    if proba is None or len(y_true) == 0:
        return out
    proba = np.asarray(proba, dtype=float)
    if len(classes) == 2:
        positive = y_true == classes[1]
        if 0 < positive.sum() < len(positive):
            out["roc_auc"] = skm.roc_auc_score(positive, proba[:, 1])
            out["pr_auc"] = skm.average_precision_score(positive, proba[:, 1])
    else:
        out["roc_auc"], out["pr_auc"] = _one_vs_rest(y_true, proba, classes)
    clipped = np.clip(proba, 1e-15, 1.0)
    out["log_loss"] = skm.log_loss(y_true, clipped / clipped.sum(axis=1, keepdims=True), labels=classes)
    return out


def _multi_label(y_true: list, y_pred: list, proba: np.ndarray | None,
                 classes: list[str]) -> dict[str, float | None]:
    """Multi-label metrics over the classes: micro/macro F1 (macro over classes present in the truth),
    Hamming loss, subset accuracy, and per-class ROC/PR-AUC averaged when probabilities are given."""
    classes = classes or sorted({c for labels in [*y_true, *y_pred] for c in labels})
    index = {c: k for k, c in enumerate(classes)}
    truth, pred = _indicator(y_true, index), _indicator(y_pred, index)
    present = np.flatnonzero(truth.sum(axis=0) > 0)
    out: dict[str, float | None] = {
        "accuracy": skm.accuracy_score(truth, pred) if len(truth) else None,
        "f1_micro": skm.f1_score(truth, pred, average="micro", zero_division=0),
        "f1_macro": (skm.f1_score(truth[:, present], pred[:, present], average="macro", zero_division=0)
                     if len(present) else None),
        "precision_macro": (skm.precision_score(truth[:, present], pred[:, present], average="macro",
                                                zero_division=0) if len(present) else None),
        "recall_macro": (skm.recall_score(truth[:, present], pred[:, present], average="macro",
                                          zero_division=0) if len(present) else None),
        "hamming_loss": skm.hamming_loss(truth, pred) if len(truth) else None,
        "roc_auc": None, "pr_auc": None, "log_loss": None,
    }
    if proba is None or len(truth) == 0:
        return out
    proba = np.asarray(proba, dtype=float)
    rocs, prs = [], []
    for k in range(len(classes)):
        if 0 < truth[:, k].sum() < len(truth):
            rocs.append(skm.roc_auc_score(truth[:, k], proba[:, k]))
            prs.append(skm.average_precision_score(truth[:, k], proba[:, k]))
    out["roc_auc"] = float(np.mean(rocs)) if rocs else None
    out["pr_auc"] = float(np.mean(prs)) if prs else None
    clipped = np.clip(proba, 1e-15, 1 - 1e-15)  # mean binary cross-entropy over (row, class)
    out["log_loss"] = float(-np.mean(truth * np.log(clipped) + (1 - truth) * np.log(1 - clipped)))
    return out


def _indicator(lists: list, index: dict[str, int]) -> np.ndarray:
    out = np.zeros((len(lists), len(index)), dtype=int)
    for i, labels in enumerate(lists):
        for label in labels:
            if label in index:
                out[i, index[label]] = 1
    return out


def _one_vs_rest(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> tuple[float | None, ...]:
    """Macro roc_auc and pr_auc over the classes that are both present and absent in the truth."""
    rocs, prs = [], []
    for k, label in enumerate(classes):
        positive = y_true == label
        if 0 < positive.sum() < len(positive):
            rocs.append(skm.roc_auc_score(positive, proba[:, k]))
            prs.append(skm.average_precision_score(positive, proba[:, k]))
    return (float(np.mean(rocs)) if rocs else None, float(np.mean(prs)) if prs else None)


def _regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float | None]:
    if len(y_true) == 0:
        return {"rmse": None, "mae": None, "r2": None, "mape": None}
    return {
        "rmse": math.sqrt(skm.mean_squared_error(y_true, y_pred)),
        "mae": skm.mean_absolute_error(y_true, y_pred),
        "r2": skm.r2_score(y_true, y_pred) if len(y_true) > 1 else None,
        "mape": _mape(y_true, y_pred),
    }


def _mape(y_true: np.ndarray, y_pred: np.ndarray) -> float | None:
    """Mean absolute percentage error over rows whose truth is not zero (a zero truth has no
    percentage; sklearn divides by machine epsilon there and reports ~1e15). None if all are zero."""
    nonzero = np.abs(y_true) > 1e-9
    if not nonzero.any():
        return None
    return float(np.mean(np.abs((y_true[nonzero] - y_pred[nonzero]) / y_true[nonzero])))


def per_class_report(y_true: Sequence, y_pred: Sequence, classes: Sequence[str],
                     multi_label: bool = False) -> list[dict[str, float | int | str]]:
    """Precision, recall, F1 and support (rows in the truth) of each class."""
    classes = list(classes)
    if multi_label:
        index = {c: k for k, c in enumerate(classes)}
        truth, pred = _indicator(list(y_true), index), _indicator(list(y_pred), index)
    else:
        truth = np.column_stack([np.asarray(y_true).astype(str) == c for c in classes]).astype(int) \
            if classes else np.zeros((len(y_true), 0), dtype=int)
        pred = np.column_stack([np.asarray(y_pred).astype(str) == c for c in classes]).astype(int) \
            if classes else np.zeros((len(y_pred), 0), dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision, recall, f1, support = skm.precision_recall_fscore_support(
            truth, pred, average=None, zero_division=0) if classes else ([], [], [], [])
    return [{"class": c, "precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k]),
             "support": int(support[k])} for k, c in enumerate(classes)]


def is_better(a: float | None, b: float | None, direction: str) -> bool:
    """Whether score `a` beats score `b` in the given direction; None never wins."""
    if a is None:
        return False
    if b is None:
        return True
    return a > b if direction == "higher" else a < b
