"""The forecast task's order checks (the `order.check` hook): run when an order is validated."""

from __future__ import annotations

from mofang.orders.schema import Order


def check(order: Order) -> None:
    """A forecast order names its time column and a `forecast:` section whose columns are distinct from the
    target and the time column."""
    if not order.time_column:
        raise ValueError("a time-series-forecast order needs a 'time_column' (the timestamps of the series)")
    if order.forecast is None:
        raise ValueError("a time-series-forecast order needs a 'forecast' section with at least 'horizon' "
                         "(e.g. forecast: {horizon: 13, series_column: store})")
    for column in order.forecast.columns:
        if column in (order.target, order.time_column):
            raise ValueError(f"forecast column '{column}' is the order's target or time_column")
