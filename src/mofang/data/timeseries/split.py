"""The time-based split of regular series: per series the last `horizon` steps are test, the `horizon`
before them valid, the rest train; nothing is shuffled."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from mofang.core.errors import DataError

MIN_TRAIN = 4  # steps a series needs before its valid window to be fitted at all


@dataclass
class TimeSplit:
    """The three parts, and the series too short to hold out (kept whole in train) with their lengths."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    short: dict[str, int] = field(default_factory=dict)


def time_split(frame: pd.DataFrame, id_column: str, time_column: str, horizon: int,
               min_train: int = MIN_TRAIN) -> TimeSplit:
    """Split a regular table (sorted by id and time). Raises DataError when no series is long enough."""
    frame = frame.sort_values([id_column, time_column], kind="stable").reset_index(drop=True)
    position = frame.groupby(id_column, sort=False).cumcount(ascending=False)  # 0 = the last step
    length = frame.groupby(id_column, sort=False)[time_column].transform("size")
    long_enough = length >= 2 * horizon + min_train
    short = frame.loc[~long_enough].groupby(id_column)[time_column].size()
    if not long_enough.any():
        raise DataError(f"no series is long enough to hold out valid and test windows of {horizon} steps each: "
                        f"{2 * horizon + min_train} steps are needed, the longest has {int(length.max())}; "
                        "shorten forecast.horizon or give more history")
    test = long_enough & (position < horizon)
    valid = long_enough & (position >= horizon) & (position < 2 * horizon)
    train = ~(test | valid)
    return TimeSplit(frame[train].reset_index(drop=True), frame[valid].reset_index(drop=True),
                     frame[test].reset_index(drop=True), {str(k): int(v) for k, v in short.items()})
