"""The primary metric: what tuning optimises and selection ranks by, and how to score a candidate."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from mofang.evaluation.metrics import compute_metrics
from mofang.models.candidate import Candidate
from mofang.models.trainers.base import default_metric
from mofang.orders.schema import METRICS_BY_TASK, Order, Task


def primary_metric(order: Order, classes: Sequence[str] | None = None) -> tuple[str, str]:
    """(name, direction): the order's first acceptance metric, else roc_auc (binary), f1_macro
    (multiclass, i.e. more than two `classes`) or rmse (regression)."""
    if order.acceptance.metrics:
        name = next(iter(order.acceptance.metrics))
        return name, METRICS_BY_TASK[Task(order.task)][name]
    return default_metric(Task(order.task).value, list(classes) if classes is not None else None)


def score_candidate(candidate: Candidate, df: pd.DataFrame, target: str) -> dict[str, float | None]:
    """All metrics of the candidate's task on the labelled rows of `df`."""
    df = df[df[target].notna()].reset_index(drop=True)
    y_true = df[target].to_numpy()
    if candidate.is_classifier:
        proba = candidate.predict_proba(df)
        y_pred = [candidate.classes_[i] for i in proba.argmax(axis=1)]
        return compute_metrics(candidate.task, y_true, y_pred, proba, candidate.classes_)
    return compute_metrics(candidate.task, y_true, candidate.predict(df))
