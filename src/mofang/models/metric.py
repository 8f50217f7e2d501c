"""The primary metric: what tuning optimises and selection ranks by."""

from __future__ import annotations

from collections.abc import Sequence

from mofang.core.tasks import spec as task_spec
from mofang.models.trainers.base import default_metric
from mofang.orders.schema import Order


def primary_metric(order: Order, classes: Sequence[str] | None = None) -> tuple[str, str]:
    """(name, direction): the order's first acceptance metric, else roc_auc (binary), f1_macro
    (multiclass, i.e. more than two `classes`) or rmse (regression)."""
    if order.acceptance.metrics:
        name = next(iter(order.acceptance.metrics))
        return name, task_spec(order.task).metrics[name]
    return default_metric(order.task, list(classes) if classes is not None else None)
