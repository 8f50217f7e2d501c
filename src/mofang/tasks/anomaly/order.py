"""The anomaly-detection task's order checks (the `order.check` hook): run when an order is validated."""

from __future__ import annotations

from mofang.orders.schema import Order


def check(order: Order) -> None:
    """What an anomaly-detection order needs: a time column, sensors distinct from the other roles, and a
    label column for any acceptance metric (nothing can be measured without labels)."""
    if not order.time_column:
        raise ValueError("an anomaly-detection order needs 'time_column' (the readings' timestamps: the split "
                         "and the event windows follow time)")
    if order.anomaly is not None and order.anomaly.windows is not None and not order.target:
        raise ValueError("anomaly.windows needs 'target': the name of the label column the windows create")
    if order.acceptance.metrics and not order.target:
        raise ValueError("acceptance metrics of an anomaly-detection order need 'target' (the column labelling "
                         "anomalous readings 1/0) to be measured")
    sensors = (order.anomaly.sensors or []) if order.anomaly else []
    if order.anomaly and order.anomaly.sensors is not None and not sensors:
        raise ValueError("anomaly.sensors is empty; name at least one sensor column or leave it out")
    for column in sensors:
        for role, name in (("target", order.target), ("time_column", order.time_column),
                           ("id_column", order.id_column)):
            if column == name:
                raise ValueError(f"anomaly.sensors names '{column}', the order's {role}")
    if len(set(sensors)) != len(sensors):
        raise ValueError(f"anomaly.sensors names a column twice: {sensors}")
