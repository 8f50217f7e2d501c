"""Time-series data: a regular time index per series (frequency inferred, duplicates aggregated, gaps filled
and marked) and the time-based split (the last `horizon` steps of each series held out)."""

from mofang.data.timeseries.regularize import (
    FILLED,
    SeriesSpec,
    infer_frequency,
    regularize,
    season_length_for,
)
from mofang.data.timeseries.split import TimeSplit, time_split

__all__ = ["FILLED", "SeriesSpec", "TimeSplit", "infer_frequency", "regularize", "season_length_for", "time_split"]
