"""Forecast orders: the `forecast:` section parses, and each mistake fails at intake naming the field."""

from __future__ import annotations

import pytest

from mofang.core.errors import OrderError
from mofang.orders import parse_order

BASE = """\
id: demand
tenant: shop
task: time-series-forecast
data:
  - path: sales.csv
time_column: week
target: sales
"""


def _order(extra: str):
    gate = "" if "acceptance:" in extra else "acceptance: none\n"  # a placed order states its gate
    return parse_order(BASE + extra + gate, file="order.yaml")


def test_forecast_section_parses_with_defaults() -> None:
    order = _order("forecast:\n  horizon: 13\n  series_column: store\n  known_covariates: [holiday]\n"
                   "  quantiles: [0.9, 0.1]\nacceptance:\n  metrics:\n    mase: '<= 0.9'\n")
    assert order.task == "time-series-forecast"
    assert order.forecast.horizon == 13 and order.forecast.quantiles == [0.1, 0.9]
    assert order.forecast.backtest_windows == 3 and order.forecast.frequency is None
    assert order.is_granted("store") and order.is_granted("holiday")


@pytest.mark.parametrize(("extra", "message"), [
    ("", "needs a 'forecast' section"),
    ("forecast:\n  horizon: 0\n", "horizon"),
    ("forecast:\n  horizon: 4\n  frequency: fortnightly\n", "'fortnightly' is not a pandas frequency"),
    ("forecast:\n  horizon: 4\n  quantiles: [0.1, 1.5]\n", "strictly between 0 and 1"),
    ("forecast:\n  horizon: 4\n  known_covariates: [price]\n  past_covariates: [price]\n",
     "both known_covariates and past_covariates"),
    ("forecast:\n  horizon: 4\n  series_column: sales\n", "forecast column 'sales' is the order's target"),
    ("forecast:\n  horizon: 4\n  horizn: 5\n", "horizn"),
    ("forecast:\n  horizon: 4\nacceptance:\n  metrics:\n    mape: '<= 0.1'\n", "did you mean 'smape'"),
    ("forecast:\n  horizon: 4\ncolumns:\n  deny: [store]\n  allow: [week, sales]\n"
     "forecast_extra: 1\n", "forecast_extra"),
])
def test_mistakes_fail_at_intake(extra: str, message: str) -> None:
    with pytest.raises(OrderError, match=message):
        _order(extra)


def test_forecast_needs_a_time_column_and_only_forecast_orders_take_the_section() -> None:
    with pytest.raises(OrderError, match="needs a 'time_column'"):
        parse_order(BASE.replace("time_column: week\n", "") + "forecast:\n  horizon: 4\nacceptance: none\n",
                    file="order.yaml")
    tabular = BASE.replace("time-series-forecast", "tabular-regression") + "forecast:\n  horizon: 4\nacceptance: none\n"
    with pytest.raises(OrderError, match="applies to time-series-forecast orders only"):
        parse_order(tabular, file="order.yaml")
