"""Regularize a long table of series: parse the time column, sort, aggregate duplicate time steps, resample
mixed frequencies to one (inferred or ordered), and fill gaps (marked in FILLED), with a trace of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from mofang.core.errors import DataError
from mofang.data.dates import detect_dayfirst, parse_dates

FILLED = "__filled__"  # True on a time step that was missing from the data and filled in
SINGLE_SERIES = "all"  # the series id of an order without a series column
SAMPLE = 5
# steps per season by the frequency's base (weekly: a year of weeks; daily: a week; hourly: a day)
SEASONS = {"min": 60, "h": 24, "D": 7, "B": 5, "W": 52, "MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4, "Q": 4,
           "YS": 1, "YE": 1, "Y": 1}


@dataclass
class SeriesSpec:
    """Which columns hold the series id, the time, the target and the covariates."""

    time: str
    target: str
    series: str | None = None
    known: list[str] = field(default_factory=list)
    past: list[str] = field(default_factory=list)
    frequency: str | None = None
    duplicates: str = "mean"

    @property
    def id_column(self) -> str:
        return self.series or "series"

    @property
    def covariates(self) -> list[str]:
        return [*self.known, *self.past]


def regularize(frame: pd.DataFrame, spec: SeriesSpec, dayfirst: bool | None = None) -> tuple[pd.DataFrame, dict]:
    """(regular table, trace): one row per series and time step of the frequency, sorted; columns id, time,
    target, covariates and FILLED. Raises DataError naming the column when time or target cannot be read."""
    for role, column in (("time_column", spec.time), ("target", spec.target), ("series_column", spec.series),
                         *(("known_covariates", c) for c in spec.known), *(("past_covariates", c) for c in spec.past)):
        if column and column not in frame.columns:
            raise DataError(f"the order's {role} '{column}' is not in the data; columns: "
                            + ", ".join(str(c) for c in frame.columns if not str(c).startswith("__")),
                            column=column)
    trace: dict[str, Any] = {"rows_in": len(frame)}
    work = pd.DataFrame({spec.id_column: _series_ids(frame, spec)})
    if dayfirst is None and not pd.api.types.is_datetime64_any_dtype(frame[spec.time]):
        dayfirst = detect_dayfirst(frame[spec.time])
    work[spec.time] = parse_dates(frame[spec.time], dayfirst).to_numpy()
    for column in (spec.target, *spec.covariates):
        work[column] = _numbers(frame[column], column)
    bad_time = work[spec.time].isna()
    if bad_time.all():
        raise DataError(f"no value of the time column could be read as a date (e.g. "
                        f"{frame[spec.time].dropna().astype(str).head(3).tolist()})", column=spec.time)
    trace["unreadable_time"] = {"rows": int(bad_time.sum()),
                                "examples": frame.loc[bad_time, spec.time].astype(str).head(SAMPLE).tolist()}
    work = work[~bad_time].sort_values([spec.id_column, spec.time], kind="stable").reset_index(drop=True)
    frequency = spec.frequency or infer_frequency(work, spec)
    trace["frequency"] = {"value": frequency, "how": "ordered" if spec.frequency else "inferred"}
    out, counts = _resample(work, spec, frequency)
    trace["duplicates"] = {"steps": int((counts > 1).sum()), "rows_merged": int((counts[counts > 1] - 1).sum()),
                           "how": spec.duplicates}
    missing = out[spec.target].isna().to_numpy()
    trace["gaps"] = {"steps": int(missing.sum()),
                     "examples": [{"series": str(s), "time": str(t)} for s, t in
                                  out.loc[missing, [spec.id_column, spec.time]].head(SAMPLE).itertuples(index=False)]}
    out[FILLED] = missing
    out = _fill(out, spec)
    trace["rows_out"] = len(out)
    trace["series"] = int(out[spec.id_column].nunique())
    return out, trace


def infer_frequency(frame: pd.DataFrame, spec: SeriesSpec) -> str:
    """The frequency of the series, as an offset alias: each series' most common step, the coarsest of them
    when series differ (finer ones are aggregated up to it, nothing is invented), named by pandas' own
    inference on a series at that step (W-FRI, MS ...) or from the step itself."""
    steps = frame.groupby(spec.id_column, sort=False)[spec.time].diff()
    steps = steps[steps > pd.Timedelta(0)]
    if steps.empty:
        raise DataError("cannot infer the frequency: no series has two distinct timestamps; give "
                        "forecast.frequency in the order", column=spec.time)
    modal = steps.groupby(frame.loc[steps.index, spec.id_column]).agg(lambda s: s.mode().iloc[0])
    common = modal.max()
    for key in modal.index[modal == common]:
        unique = pd.DatetimeIndex(frame.loc[frame[spec.id_column] == key, spec.time].drop_duplicates())
        if len(unique) >= 3:
            try:
                found = pd.infer_freq(unique[:200])
            except (TypeError, ValueError):
                found = None
            if found:
                return found
    stamps = frame[spec.time]
    days = common / pd.Timedelta(days=1)
    starts = (stamps.dt.day == 1).mean() > 0.5
    for low, high, start, end in ((28, 31, "MS", "ME"), (89, 92, "QS", "QE"), (365, 366, "YS", "YE")):
        if low <= days <= high:
            return start if starts else end
    if days == 7:
        return "W-" + stamps.dt.day_name().mode().iloc[0][:3].upper()
    return to_offset(common).freqstr


def season_length_for(frequency: str) -> int:
    """Steps per season for a frequency (a week of days, a year of weeks or months, a day of hours)."""
    offset = to_offset(frequency)
    base = offset.name.split("-")[0]
    n = max(1, int(getattr(offset, "n", 1)))
    if base in ("min", "T"):
        return max(1, 60 // n)
    return max(1, SEASONS.get(base, 1) // n)


def _series_ids(frame: pd.DataFrame, spec: SeriesSpec) -> pd.Series:
    if spec.series is None:
        return pd.Series(SINGLE_SERIES, index=frame.index, dtype=object)
    ids = frame[spec.series]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DataError(f"{int(ids.isna().sum())} rows have no series id", row=row + 1, column=spec.series)
    numeric = pd.to_numeric(ids, errors="coerce")
    if numeric.notna().all() and (numeric == numeric.round()).all():  # 1.0 and "1" name the same store
        return numeric.astype("int64").astype(str)
    return ids.astype(str).str.strip()


def _numbers(values: pd.Series, column: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().sum() > values.isna().sum():
        text = values.astype("string").str.replace(r"[,\s￥$€%]", "", regex=True)  # "1,234" and "￥8,500"
        numbers = pd.to_numeric(text, errors="coerce")
    unreadable = numbers.isna() & values.notna()
    if unreadable.all() and len(values):
        raise DataError(f"no value could be read as a number (e.g. {values.dropna().astype(str).head(3).tolist()})",
                        column=column)
    return numbers.astype(float)


def _resample(work: pd.DataFrame, spec: SeriesSpec, frequency: str) -> tuple[pd.DataFrame, pd.Series]:
    """One row per series and step from each series' first to its last step; the rows inside a step are
    combined (target by spec.duplicates, covariates by mean); also the row count of each step."""
    columns = [spec.target, *spec.covariates]
    how = {spec.target: spec.duplicates, **dict.fromkeys(spec.covariates, "mean")}
    parts, sizes = [], []
    for key, part in work.groupby(spec.id_column, sort=True):
        resampled = part.set_index(spec.time)[columns].resample(frequency)
        values = resampled.agg(how)
        size = resampled.size()
        if spec.duplicates == "sum":  # a step without rows is a gap, not a zero
            values[spec.target] = values[spec.target].where(size > 0)
        values.insert(0, spec.id_column, key)
        parts.append(values.reset_index())
        sizes.append(size)
    values = pd.concat(parts, ignore_index=True)[[spec.id_column, spec.time, *columns]]
    counts = pd.concat(sizes, ignore_index=True)
    return values, counts


def _fill(frame: pd.DataFrame, spec: SeriesSpec) -> pd.DataFrame:
    """Gaps in the target interpolated linearly within each series; covariates carried forward, then back."""
    parts = []
    for _, part in frame.groupby(spec.id_column, sort=True):
        part = part.copy()
        part[spec.target] = part[spec.target].interpolate(limit_direction="both")
        if spec.covariates:
            part[spec.covariates] = part[spec.covariates].ffill().bfill()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
