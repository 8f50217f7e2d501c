"""Parse dates written in mixed formats within one column into datetime64[ns].

Accepted: 2023-01-05 · 2023/1/5 · 2023.01.05 · 20230105 · 2023年1月5日 · 05/01/2023 · 05/01/23,
each optionally followed by a time (13:45 or 13:45:00[.fff]); a trailing zone offset is ignored
(the wall-clock time is kept). Day and month when the year comes last (05/01/2023): the column is
read day-first if any of its values has a first number above 12 (31/12/2023), month-first if any
has a second number above 12 (12/31/2023), and month-first when nothing tells (US convention);
pass `dayfirst` to override. Two-digit years below 70 are 20xx, others 19xx.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import warnings

import numpy as np
import pandas as pd
from pandas.api.types import is_datetime64_any_dtype

from mofang.data.missing import to_text
from mofang.data.uniques import per_unique

_TIME = (r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,9}))?)?)?"
         r"\s*(?:Z|[+-]\d{2}:?\d{2})?$")
_YMD = re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME)
_COMPACT = re.compile(r"^(?P<y>(?:19|20)\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)" + _TIME)
_XXY = re.compile(r"^(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4}|\d{2})" + _TIME)
_CHINESE = [("年", "-"), ("月", "-"), ("日", ""), ("号", "")]


def parse_dates(values: pd.Series, dayfirst: bool | None = None, date_format: str | None = None) -> pd.Series:
    """datetime64[ns] Series; anything that is not a date becomes NaT. Idempotent on datetimes.

    `date_format`: the column's format inferred at training (`infer_date_format`, e.g. "%b-%Y" for "Mar-2018"):
    values written that way are read in one vectorised pass, the others by the general parser."""
    if is_datetime64_any_dtype(values.dtype):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        return values.astype("datetime64[ns]")
    objects = values.astype(object)
    if date_format:
        if pd.api.types.infer_dtype(objects, skipna=True) == "string":  # strings and gaps (checked in C)
            text = objects.str.strip()
        else:
            text = objects.map(lambda v: v.strip() if isinstance(v, str) else None)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fast = pd.Series(pd.to_datetime(text, format=date_format, errors="coerce"), index=values.index)
        fast = fast.astype("datetime64[ns]")
        rest = fast.isna() & objects.notna()
        if rest.any():
            fast[rest] = per_unique(objects[rest], lambda u: parse_date_strings(u, dayfirst), pd.NaT)
        return fast
    return per_unique(objects, lambda u: parse_date_strings(u, dayfirst), pd.NaT)


# formats tried at training, in order: ISO and the common numeric ones (pandas reads an explicit format in C,
# the built-in patterns per distinct value), then what the built-in patterns do not read (month names, months
# without a day); a format is kept only where it reads the sample exactly as the general parser does
DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y%m%d",
                "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%m-%d-%Y", "%d.%m.%Y", "%Y.%m.%d",
                "%b-%Y", "%b %Y", "%b-%y", "%b %y", "%B %Y", "%B-%Y", "%d-%b-%Y", "%d %b %Y", "%d-%b-%y", "%d %b %y",
                "%b %d, %Y", "%B %d, %Y", "%d %B %Y", "%Y-%m", "%Y/%m", "%Y.%m", "%m/%Y", "%Y%m", "%Y-%b",
                "%b-%d-%Y", "%d/%b/%Y")


def infer_date_format(values: pd.Series, share: float = 0.95) -> str | None:
    """The one format a date column is written in, when it reads `share` of its sampled distinct values exactly
    as the general parser does ("2023-01-05" → "%Y-%m-%d", "Mar-2018" → "%b-%Y"); None when no single format
    fits (mixed formats: the general parser reads them at serving too)."""
    if is_datetime64_any_dtype(values.dtype):
        return None
    distinct = pd.Series(pd.unique(values.dropna().astype(object)), dtype=object)
    distinct = distinct[distinct.map(lambda v: isinstance(v, str) and v.strip() != "")].head(2000)
    if distinct.empty:
        return None
    general = parse_date_strings(distinct)
    stripped = distinct.str.strip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for candidate in DATE_FORMATS:
            fast = pd.Series(pd.to_datetime(stripped, format=candidate, errors="coerce"), index=distinct.index)
            hit = fast.notna()
            if hit.mean() >= share and bool((fast[hit].astype("datetime64[ns]") == general[hit]).all()):
                return candidate
    return None


def detect_dayfirst(values: pd.Series) -> bool | None:
    """True/False when the column's dd/mm vs mm/dd order is evident from a value above 12, else None."""
    parts = _normalize(pd.Series(pd.unique(values.dropna().astype(object)), dtype=object)).str.extract(_XXY)
    a, b = pd.to_numeric(parts["a"], errors="coerce"), pd.to_numeric(parts["b"], errors="coerce")
    if (a > 12).any():
        return True
    if (b > 12).any():
        return False
    return None


def parse_date_strings(values: pd.Series, dayfirst: bool | None = None) -> pd.Series:
    """Vectorized parse of distinct values (strings, numbers, datetimes) into datetime64[ns]."""
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    is_datetime = values.map(lambda v: isinstance(v, dt.date)).to_numpy(dtype=bool)
    if is_datetime.any():
        result[is_datetime] = pd.to_datetime(values[is_datetime].map(_naive), errors="coerce")
    text = _normalize(values[~is_datetime])
    if dayfirst is None:
        dayfirst = bool(detect_dayfirst(text))
    left = text.index
    for pattern in (_YMD, _COMPACT, _XXY):
        parts = text[left].str.extract(pattern)
        hit = parts["y"].notna()
        if hit.any():
            result[parts.index[hit]] = _assemble(parts[hit], dayfirst)
        left = parts.index[~hit]
    rest = text[left]
    rest = rest[rest.str.contains(r"\d{4}", regex=True).fillna(False) & (rest.str.len() >= 8)]
    if len(rest):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(rest.astype(object), errors="coerce", format="mixed", utc=True)
        result[rest.index] = parsed.dt.tz_localize(None).astype("datetime64[ns]")
    return result


def _naive(value: dt.date) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _normalize(values: pd.Series) -> pd.Series:
    text = values.map(to_text).astype("string").str.normalize("NFKC").str.strip()
    for old, new in _CHINESE:
        text = text.str.replace(old, new, regex=False)
    return text.str.replace(r"-(?=\s|$)", "", regex=True)  # "2023-1-5-" left by 年月日


def _assemble(parts: pd.DataFrame, dayfirst: bool) -> pd.Series:
    year = pd.to_numeric(parts["y"]).astype("int64")
    if "a" in parts:
        a, b = pd.to_numeric(parts["a"]), pd.to_numeric(parts["b"])
        day, month = (a, b) if dayfirst else (b, a)
        year = year.where(year >= 100, np.where(year < 70, year + 2000, year + 1900))
    else:
        day, month = pd.to_numeric(parts["d"]), pd.to_numeric(parts["m"])
    frame = pd.DataFrame({
        "year": year, "month": month, "day": day,
        "hour": pd.to_numeric(parts["H"]).fillna(0), "minute": pd.to_numeric(parts["M"]).fillna(0),
        "second": pd.to_numeric(parts["S"]).fillna(0),
    })
    stamps = pd.to_datetime(frame, errors="coerce")
    fraction = parts["f"].fillna("0").str.ljust(9, "0").astype("int64")
    return (stamps + pd.to_timedelta(fraction.to_numpy(), unit="ns")).astype("datetime64[ns]")


def parse_date_value(value: object, dayfirst: bool | None = None,
                     date_format: str | None = None) -> pd.Timestamp | None:
    """One value parsed exactly as `parse_dates` would inside a column, without pandas' per-call cost
    (serving one row). None where it is not a date."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return _naive(value)
    if date_format and isinstance(value, str):
        try:
            return _naive(dt.datetime.strptime(value.strip(), date_format))
        except ValueError:
            pass
    text = unicodedata.normalize("NFKC", to_text(value)).strip()
    for old, new in _CHINESE:
        text = text.replace(old, new)
    text = _TRAILING_DASH.sub("", text)
    for pattern in (_YMD, _COMPACT, _XXY):
        match = pattern.match(text)
        if match:
            return _stamp(match.groupdict(), dayfirst)
    stamp = parse_dates(pd.Series([value], dtype=object), dayfirst).iloc[0]  # the rare free-form rest
    return None if pd.isna(stamp) else stamp


_TRAILING_DASH = re.compile(r"-(?=\s|$)")


def _stamp(parts: dict[str, str | None], dayfirst: bool | None) -> pd.Timestamp | None:
    year = int(parts["y"] or 0)
    if parts.get("a") is not None:
        a, b = int(parts["a"] or 0), int(parts["b"] or 0)
        if dayfirst is None:  # as detect_dayfirst on a column of this one value
            dayfirst = a > 12
        day, month = (a, b) if dayfirst else (b, a)
        if year < 100:
            year += 2000 if year < 70 else 1900
    else:
        day, month = int(parts["d"] or 0), int(parts["m"] or 0)
    try:
        stamp = pd.Timestamp(year=year, month=month, day=day, hour=int(parts["H"] or 0),
                             minute=int(parts["M"] or 0), second=int(parts["S"] or 0))
    except (ValueError, OverflowError):
        return None
    fraction = (parts["f"] or "0").ljust(9, "0")
    return stamp + pd.Timedelta(int(fraction), unit="ns")
