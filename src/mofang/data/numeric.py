"""Parse numbers as people write them: 1,234 · 12% · ¥3.5万 · (1,234) · 1.2k · １２３ · 12个月 · 88.5㎡."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from mofang.data.missing import to_text
from mofang.data.uniques import per_unique

_NUMBER = re.compile(
    r"^(?P<sign>[-+])?(?:¥|\$|€|£|RMB|CNY|USD|HK\$)?(?P<sign2>[-+])?"
    r"(?P<num>\d+(?:\.\d*)?|\.\d+)(?:[eE](?P<exp>[-+]?\d+))?"
    r"(?P<mult>万亿|亿|万|千|[kK](?=[%‰]?$))?"
    r"(?P<unit>[^\d%‰.+\-]{0,6}?|[a-zA-Z]{1,3}[23])(?P<pct>[%‰])?$")  # 元, 个月, 平米; m2/m3 (㎡, m³)
_MULTIPLIER = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3, "k": 1e3, "K": 1e3}
_PERCENT = {"%": 0.01, "‰": 0.001}
_SEPARATORS = re.compile(r"[\s,_']")


def parse_numbers(values: pd.Series) -> pd.Series:
    """float64 Series; anything that is not a number becomes NaN. Idempotent on numbers."""
    if is_bool_dtype(values.dtype) or is_numeric_dtype(values.dtype):
        return values.astype("float64")
    objects = values.astype(object)
    try:
        fast = pd.to_numeric(objects, errors="coerce").astype("float64")
    except (TypeError, ValueError):
        fast = pd.Series(np.nan, index=values.index)
    todo = fast.isna() & objects.notna()
    if todo.any():
        fast[todo] = per_unique(objects[todo], parse_number_strings, np.nan).astype("float64")
    return fast.where(np.isfinite(fast), np.nan)


def parse_number_strings(values: pd.Series) -> pd.Series:
    """Vectorized parse of distinct values (any objects) into float64."""
    text = values.map(to_text).astype("string").str.normalize("NFKC")
    text = text.str.replace("−", "-", regex=False).str.replace(_SEPARATORS, "", regex=True)
    negative = text.str.match(r"^\(.*\)$").fillna(False).to_numpy(dtype=bool)
    text = text.str.replace(r"^\((.*)\)$", r"\1", regex=True)
    parts = text.str.extract(_NUMBER)
    number = pd.to_numeric(parts["num"], errors="coerce").astype("float64")
    exponent = pd.to_numeric(parts["exp"], errors="coerce").fillna(0).astype("float64")
    scale = parts["mult"].map(_MULTIPLIER).fillna(1.0).astype("float64")
    percent = parts["pct"].map(_PERCENT).fillna(1.0).astype("float64")
    sign = np.where((parts["sign"] == "-").fillna(False) ^ (parts["sign2"] == "-").fillna(False), -1.0, 1.0)
    sign = np.where(negative, -sign, sign)
    result = number * np.power(10.0, exponent) * scale * percent * sign
    return pd.Series(result.to_numpy(dtype="float64"), index=values.index)


def parse_number_value(value: object) -> float:
    """One value parsed exactly as `parse_numbers` would inside a column, without pandas' per-call cost
    (serving one row: a distinct amount per request never hits a cache). NaN where it is not a number."""
    if value is None:
        return np.nan
    if isinstance(value, bool | int | float | np.number):
        number = float(value)
        return number if np.isfinite(number) else np.nan
    text = to_text(value)
    if text.isascii():  # what pandas' own conversion reads (plain, signed, exponent, surrounding spaces)
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            return number if np.isfinite(number) else np.nan
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).replace("−", "-"))
    negative = len(text) >= 2 and text[0] == "(" and text[-1] == ")"
    if negative:
        text = text[1:-1]
    match = _NUMBER.match(text)
    if match is None:
        return np.nan
    parts = match.groupdict()
    number = float(parts["num"]) * 10.0 ** float(parts["exp"] or 0)
    number *= _MULTIPLIER.get(parts["mult"] or "", 1.0) * _PERCENT.get(parts["pct"] or "", 1.0)
    if (parts["sign"] == "-") ^ (parts["sign2"] == "-") ^ negative:
        number = -number
    return number if np.isfinite(number) else np.nan
