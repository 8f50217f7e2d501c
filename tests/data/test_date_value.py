"""parse_date_value (one served value) agrees with parse_dates (a column) on every format."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from mofang.data.dates import parse_date_value, parse_dates

VALUES = ["2023-01-05", "2023/1/5", "2023.01.05", "20230105", "2023年1月5日", "2023年1月5号", "05/01/2023",
          "12/31/2023", "31/12/23", "05/01/69", "2023-01-05 13:45", "2023-01-05T13:45:07.123", "２０２３－０１－０５",
          "2023-01-05 13:45:00+08:00", "2023-13-45", "not a date", "", "Jan 5, 2023", 20230105,
          dt.date(2023, 1, 5), dt.datetime(2023, 1, 5, 8, 30), pd.Timestamp("2023-01-05", tz="Asia/Shanghai")]


@pytest.mark.parametrize("dayfirst", [None, True, False])
@pytest.mark.parametrize("value", VALUES, ids=[repr(v) for v in VALUES])
def test_one_value_parses_like_a_column(value, dayfirst):
    column = parse_dates(pd.Series([value], dtype=object), dayfirst).iloc[0]
    single = parse_date_value(value, dayfirst)
    if pd.isna(column):
        assert single is None
    else:
        assert single == column
