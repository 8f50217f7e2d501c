"""Regularizing series: any common date format, sorting, duplicate steps aggregated, gaps filled and
marked, mixed frequencies brought to the coarsest one, clear errors naming the column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mofang.core.errors import DataError
from mofang.data.timeseries import FILLED, SeriesSpec, infer_frequency, regularize, season_length_for
from tests.conftest import shared_dataset


def _spec(**kw) -> SeriesSpec:
    return SeriesSpec(time="when", target="qty", series="sku", **kw)


def test_day_first_dates_duplicates_and_gaps_per_series() -> None:
    frame = pd.DataFrame({
        "sku": ["a"] * 7 + ["b"] * 3,
        "when": ["15/01/2024", "13/01/2024", "13/01/2024", "14/01/2024", "17/01/2024", "18/01/2024", "19/01/2024",
                 "2024年1月13日", "2024-01-14", "20240116"],
        "qty": ["10", "4", "6", "8", "30", "31", "32", "1", "2", "4"],
    })
    out, trace = regularize(frame, _spec())
    a = out[out["sku"] == "a"]
    assert a["when"].dt.day.tolist() == [13, 14, 15, 16, 17, 18, 19]
    assert a["qty"].tolist() == [5.0, 8.0, 10.0, 20.0, 30.0, 31.0, 32.0]  # the 13th averaged, the 16th interpolated
    assert a[FILLED].tolist() == [False, False, False, True, False, False, False]
    assert trace["frequency"] == {"value": "D", "how": "inferred"}
    assert trace["duplicates"]["steps"] == 1 and trace["gaps"]["steps"] == 2  # the 16th of a, the 15th of b
    assert out[out["sku"] == "b"]["qty"].tolist() == [1.0, 2.0, 3.0, 4.0]


def test_sum_aggregates_duplicates_and_keeps_gaps_apart_from_zeros() -> None:
    frame = pd.DataFrame({"sku": ["a"] * 4, "when": ["2024-01-01", "2024-01-01", "2024-01-03", "2024-01-04"],
                          "qty": [1.0, 2.0, 5.0, 7.0]})
    out, _ = regularize(frame, _spec(duplicates="sum", frequency="D"))
    assert out["qty"].tolist() == [3.0, 4.0, 5.0, 7.0] and out[FILLED].tolist() == [False, True, False, False]


def test_mixed_frequencies_are_aggregated_to_the_coarsest() -> None:
    hourly = pd.date_range("2024-01-01", periods=72, freq="h")
    daily = pd.date_range("2024-01-01", periods=3, freq="D")
    frame = pd.DataFrame({"sku": ["fine"] * 72 + ["coarse"] * 3,
                          "when": [*hourly.astype(str), *daily.astype(str)],
                          "qty": [*np.ones(72), 24.0, 24.0, 24.0]})
    out, trace = regularize(frame, _spec(duplicates="sum"))
    assert trace["frequency"]["value"] == "D"
    assert out[out["sku"] == "fine"]["qty"].tolist() == [24.0, 24.0, 24.0]


def test_weekly_and_monthly_frequencies_are_named() -> None:
    weeks = pd.DataFrame({"sku": "a", "when": pd.date_range("2024-01-05", periods=6, freq="W-FRI"), "qty": 1.0})
    months = pd.DataFrame({"sku": "a", "when": pd.date_range("2024-01-01", periods=6, freq="MS"), "qty": 1.0})
    assert infer_frequency(weeks, _spec()) == "W-FRI"
    assert infer_frequency(months, _spec()) == "MS"
    assert (season_length_for("W-FRI"), season_length_for("D"), season_length_for("MS"),
            season_length_for("h")) == (52, 7, 12, 24)


def test_errors_name_the_column() -> None:
    frame = pd.DataFrame({"sku": ["a", "b"], "when": ["soon", "later"], "qty": [1, 2]})
    with pytest.raises(DataError, match="column 'when'.*could be read as a date"):
        regularize(frame, _spec())
    with pytest.raises(DataError, match="series_column 'store' is not in the data"):
        regularize(frame, SeriesSpec(time="when", target="qty", series="store"))
    text = pd.DataFrame({"sku": ["a", "a"], "when": ["2024-01-01", "2024-01-02"], "qty": ["many", "few"]})
    with pytest.raises(DataError, match="column 'qty'.*read as a number"):
        regularize(text, _spec())
    missing_id = pd.DataFrame({"sku": ["a", None], "when": ["2024-01-01", "2024-01-02"], "qty": [1, 2]})
    with pytest.raises(DataError, match="row 2, column 'sku'"):
        regularize(missing_id, _spec())


def test_walmart_export_is_weekly_on_fridays() -> None:
    frame = pd.read_csv(shared_dataset("timeseries/walmart_weekly_sales.csv"))
    out, trace = regularize(frame, SeriesSpec(time="Date", target="Weekly_Sales", series="Store"))
    assert trace["frequency"]["value"] == "W-FRI" and trace["series"] == 45 and trace["gaps"]["steps"] == 0
    assert out.groupby("Store").size().eq(143).all()
    assert out["Date"].min() == pd.Timestamp("2010-02-05")  # 05/02/10 read day-first
