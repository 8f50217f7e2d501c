"""The forecast plan keeps only backtest windows with two seasons of history before them."""

from __future__ import annotations

import pandas as pd

from mofang.tasks.forecast.models.workshop import backtest_windows


def _parts(length: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame({"id": "a", "t": range(length)})
    return frame.iloc[:-13], frame.iloc[-13:]


def test_windows_without_two_seasons_of_history_are_left_out() -> None:
    info = {"backtest_windows": 3, "horizon": 13, "season_length": 52, "series": "id"}
    assert backtest_windows(*_parts(130), info) == (2, backtest_windows(*_parts(130), info)[1])
    assert "less than two seasons (104 steps)" in backtest_windows(*_parts(130), info)[1]
    assert backtest_windows(*_parts(300), info) == (3, "")
    assert backtest_windows(*_parts(60), info)[0] == 1  # always at least one
