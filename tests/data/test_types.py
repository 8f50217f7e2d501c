"""Column kinds: parsing numbers, dates and booleans as people write them; inference; idempotence."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mofang.data import coerce, infer_kind


@pytest.mark.parametrize("raw, value", [
    ("1,234", 1234.0), ("1，234", 1234.0), (" 12% ", 0.12), ("¥3.5万", 35000.0), ("3.5亿", 3.5e8),
    ("1.2k", 1200.0), ("(1,234)", -1234.0), ("￥12", 12.0), ("$5.50", 5.5), ("100元", 100.0),
    ("１２３", 123.0), ("12个月", 12.0), ("88.5㎡", 88.5), ("120 m²", 120.0), ("3m3", 3.0),
    ("3.14", 3.14), ("-5", -5.0), ("1e3", 1000.0), (7, 7.0),
    (2.5, 2.5), ("－３", -3.0),
])
def test_numbers(raw: object, value: float) -> None:
    assert coerce(pd.Series([raw], dtype=object), "numeric").iloc[0] == pytest.approx(value)


@pytest.mark.parametrize("raw", ["abc", None, "", "1.2.3", "M14860", "2023-01-05"])
def test_not_numbers(raw: object) -> None:
    assert math.isnan(coerce(pd.Series([raw], dtype=object), "numeric").iloc[0])


@pytest.mark.parametrize("raw", ["2023-01-05", "2023/1/5", "2023.01.05", "20230105", "2023年1月5日"])
def test_dates(raw: str) -> None:
    assert coerce(pd.Series([raw]), "datetime").iloc[0] == pd.Timestamp("2023-01-05")


def test_date_with_time_and_junk() -> None:
    values = coerce(pd.Series(["2023-01-05 13:45:00", "not a date", None]), "datetime")
    assert values.dtype == "datetime64[ns]"
    assert values.iloc[0] == pd.Timestamp("2023-01-05 13:45") and values.iloc[1:].isna().all()


def test_day_first_when_a_day_above_12_is_seen() -> None:
    dayfirst = coerce(pd.Series(["05/01/2023", "25/12/2023"]), "datetime")
    assert dayfirst.tolist() == [pd.Timestamp("2023-01-05"), pd.Timestamp("2023-12-25")]
    monthfirst = coerce(pd.Series(["05/01/2023", "12/25/2023"]), "datetime")
    assert monthfirst.iloc[0] == pd.Timestamp("2023-05-01")
    assert coerce(pd.Series(["05/01/2023"]), "datetime", dayfirst=True).iloc[0] == pd.Timestamp("2023-01-05")
    assert coerce(pd.Series(["03/01/19", "31/01/19"]), "datetime").iloc[0] == pd.Timestamp("2019-01-03")


@pytest.mark.parametrize("raw, value", [("是", 1.0), ("否", 0.0), ("Y", 1.0), ("n", 0.0), ("yes", 1.0),
                                        ("No", 0.0), ("TRUE", 1.0), ("false", 0.0), ("1", 1.0), ("0", 0.0),
                                        (1, 1.0), (0.0, 0.0), (True, 1.0)])
def test_booleans(raw: object, value: float) -> None:
    assert coerce(pd.Series([raw], dtype=object), "boolean").iloc[0] == value


def test_categorical_normalization() -> None:
    values = coerce(pd.Series(["ＡＢＣ  x ", " a\tb ", "NA", None, 1.0, 3], dtype=object), "categorical")
    assert values.tolist() == ["ABC x", "a b", None, None, "1", "3"]


@pytest.mark.parametrize("kind, raw", [
    ("numeric", ["1,234", "12%", None, "¥3.5万", "x"]),
    ("datetime", ["2023-01-05", "20230105", None, "2023年1月5日", "x"]),
    ("boolean", ["是", "N", None, "true", "x"]),
    ("categorical", ["ＡＢＣ", " a  b ", None, "空", "x"]),
])
def test_coerce_is_idempotent(kind: str, raw: list) -> None:
    once = coerce(pd.Series(raw, dtype=object), kind)
    twice = coerce(once, kind)
    pd.testing.assert_series_equal(once, twice)
    assert coerce(once.astype(object), kind).equals(once)


def test_coerce_at_prediction_time_accepts_json_values() -> None:
    assert coerce(pd.Series([3, "1,000", None, 2.5]), "numeric").tolist()[:2] == [3.0, 1000.0]
    stamps = coerce(pd.Series(["2023-01-05", None, pd.Timestamp("2023-02-01")]), "datetime")
    assert stamps.dtype == "datetime64[ns]" and stamps.iloc[2] == pd.Timestamp("2023-02-01")


@pytest.mark.parametrize("values, kind", [
    (["1,200", "3%", "7", "8.5", "NA"] * 10, "numeric"),
    ([str(i) for i in range(1, 101)], "identifier"),
    ([f"U{i:05d}" for i in range(100)], "identifier"),
    (["北京", "上海", "广州"] * 20, "categorical"),
    (["是", "否"] * 20, "boolean"),
    (["0", "1", "1"] * 20, "boolean"),
    (["2023-01-05", "2023/2/5", "2023年3月5日", "20230405"] * 10, "datetime"),
    (["20230105", "20230212"] * 10, "datetime"),
    ([f"这是一段很长的客户反馈文本，内容各不相同，编号{i}，请注意查看" for i in range(60)], "text"),
    ([None, "NA", ""] * 5, "categorical"),
    (["5", "3", "9", "1"] * 10, "numeric"),
])
def test_infer_kind(values: list, kind: str) -> None:
    assert infer_kind(pd.Series(values, dtype=object)) == kind


def test_infer_kind_of_typed_columns() -> None:
    assert infer_kind(pd.Series(np.random.default_rng(0).normal(size=50))) == "numeric"
    assert infer_kind(pd.Series(pd.date_range("2023-01-01", periods=5))) == "datetime"
    assert infer_kind(pd.Series([True, False])) == "boolean"


def test_fast_on_many_rows() -> None:
    values = pd.Series(np.random.default_rng(0).integers(0, 10_000, 500_000).astype(str), dtype=object)
    values[::7] = "1,234"
    assert infer_kind(values) == "numeric"
    assert coerce(values, "numeric").notna().all()
