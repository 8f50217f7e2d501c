"""The time-based split: per series the last horizon steps are test, the horizon before valid; short series
stay in train; nothing is shuffled."""

from __future__ import annotations

import pandas as pd
import pytest

from mofang.core.errors import DataError
from mofang.data.timeseries import time_split


def _series(lengths: dict[str, int]) -> pd.DataFrame:
    return pd.concat([pd.DataFrame({"id": key, "t": pd.date_range("2024-01-01", periods=n, freq="D"),
                                    "y": range(n)}) for key, n in lengths.items()], ignore_index=True)


def test_last_windows_are_held_out_per_series() -> None:
    parts = time_split(_series({"a": 20, "b": 12, "c": 5}), "id", "t", horizon=3)
    assert parts.short == {"c": 5}
    for key, n in (("a", 20), ("b", 12)):
        assert parts.test[parts.test["id"] == key]["y"].tolist() == [n - 3, n - 2, n - 1]
        assert parts.valid[parts.valid["id"] == key]["y"].tolist() == [n - 6, n - 5, n - 4]
        assert parts.train[parts.train["id"] == key]["y"].max() == n - 7
    assert len(parts.train[parts.train["id"] == "c"]) == 5  # too short to hold out: train only


def test_no_series_long_enough_says_what_is_needed() -> None:
    with pytest.raises(DataError, match="10 steps are needed, the longest has 6"):
        time_split(_series({"a": 6}), "id", "t", horizon=3)
