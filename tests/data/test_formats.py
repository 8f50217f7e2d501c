"""Number and date formats inferred on a training column and read in one vectorised pass at serving: the same
values as the general parsers, faster, and values written otherwise still read by the general parsers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mofang.data import coerce
from mofang.data.dates import infer_date_format, parse_date_value, parse_dates
from mofang.data.numeric import infer_number_format, parse_number_value_with, parse_numbers
from mofang.data.types import infer_formats


def test_a_number_format_strips_what_the_column_is_written_with():
    column = pd.Series(["¥1,234.50", "¥-12", "¥3,000", None, "¥0.5"], dtype=object)
    assert infer_number_format(column) == ",¥"
    assert infer_formats(column, "numeric") == {"number_format": ",¥"}
    served = pd.Series(["¥2,500.25", "¥3.5万", "12%", "n/a", None], dtype=object)  # the last three: general parser
    fast = parse_numbers(served, ",¥")
    assert fast.tolist()[:3] == [2500.25, 35000.0, 0.12] and np.isnan(fast.iloc[3]) and np.isnan(fast.iloc[4])
    assert np.allclose(fast, parse_numbers(served), equal_nan=True)
    assert [parse_number_value_with(v, ",¥") for v in served[:3]] == [2500.25, 35000.0, 0.12]


@pytest.mark.parametrize("values", [["1.5", "2", "-3"], ["¥3.5万", "¥2万"], ["12%", "3%"], ["(1,234)", "56"]])
def test_no_number_format_where_stripping_would_change_a_value_or_is_not_needed(values):
    assert infer_number_format(pd.Series(values, dtype=object)) is None


@pytest.mark.parametrize(("values", "expected"), [(["Mar-2018", "Dec-2019", "Jan-2020"], "%b-%Y"),
                                                  (["2023-01-05", "2023-12-31"], "%Y-%m-%d"),
                                                  (["31/12/2023", "05/01/2023"], "%d/%m/%Y")])
def test_a_date_format_reads_like_the_general_parser(values, expected):
    column = pd.Series(values, dtype=object)
    assert infer_date_format(column) == expected and infer_formats(column, "datetime") == {"date_format": expected}
    served = pd.Series([*values, "2023-02-03", "not a date", None], dtype=object)
    general = parse_dates(served, dayfirst=expected.startswith("%d"))
    fast = parse_dates(served, dayfirst=expected.startswith("%d"), date_format=expected)
    assert fast.equals(general)
    one = [parse_date_value(v, expected.startswith("%d"), expected) for v in served]
    assert [None if v is None else v for v in one] == [None if pd.isna(v) else v for v in general]


def test_mixed_dates_have_no_single_format():
    assert infer_date_format(pd.Series(["2023-01-05", "Mar-2018", "05.01.2023 13:45"], dtype=object)) is None


def test_coerce_takes_the_formats():
    numbers = coerce(pd.Series(["1,000", "2,000"]), "numeric", number_format=",")
    dates = coerce(pd.Series(["Mar-2018"]), "datetime", date_format="%b-%Y")
    assert numbers.tolist() == [1000.0, 2000.0] and dates.iloc[0] == pd.Timestamp("2018-03-01")
