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


def parse_numbers(values: pd.Series, strip: str | None = None) -> pd.Series:
    """float64 Series; anything that is not a number becomes NaN. Idempotent on numbers.

    `strip`: the column's number format inferred at training (`infer_number_format`): these characters
    removed, a value that then reads as a plain number is that number (one vectorised pass; the same value
    the general parser gives, checked at training); the others go through the general parser."""
    if is_bool_dtype(values.dtype) or is_numeric_dtype(values.dtype):
        return values.astype("float64")
    objects = values.astype(object)
    if strip and pd.api.types.infer_dtype(objects, skipna=True) == "string":
        # the column's format: strip its characters first (a failed conversion per value costs more than this)
        cleaned = objects
        for character in strip:  # plain replacements: several times faster than one regex over the column
            cleaned = cleaned.str.replace(character, "", regex=False)
        fast = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    else:
        try:
            fast = pd.to_numeric(objects, errors="coerce").astype("float64")
        except (TypeError, ValueError):
            fast = pd.Series(np.nan, index=values.index)
    todo = fast.isna() & objects.notna()
    if todo.any():
        fast[todo] = per_unique(objects[todo], parse_number_strings, np.nan).astype("float64")
    return fast.where(np.isfinite(fast), np.nan)


def _strip_pattern(strip: str) -> str:
    return "[" + re.escape(strip) + "]"


# characters never stripped by a number format: they change the value (multipliers, percent, sign, brackets)
_MEANINGFUL = set("0123456789.eE+-()%‰万亿千kK")
FORMAT_SAMPLE = 2000  # distinct training values a number or date format is checked on


def infer_number_format(values: pd.Series) -> str | None:
    """The characters a column's numbers are written with besides the number itself (thousands separators,
    currency signs, units: "¥1,234.50" → ",¥"), when removing them reads every sampled distinct value as
    exactly what the general parser reads; None when the column needs the general parser (or nothing)."""
    if is_bool_dtype(values.dtype) or is_numeric_dtype(values.dtype):
        return None
    distinct = pd.Series(pd.unique(values.dropna().astype(object)), dtype=object).map(to_text)
    distinct = distinct[distinct.str.strip() != ""].head(FORMAT_SAMPLE)
    if distinct.empty or pd.to_numeric(distinct, errors="coerce").notna().all():
        return None
    extra = sorted({c for text in distinct for c in text if c not in _MEANINGFUL})
    if not extra or len(extra) > 4:
        return None
    strip = "".join(extra)
    fast = pd.to_numeric(distinct.str.replace(_strip_pattern(strip), "", regex=True), errors="coerce")
    general = parse_number_strings(distinct)
    same = (fast == general) | (fast.isna() & general.isna())
    return strip if bool(same.all()) and fast.notna().mean() >= 0.95 else None


def parse_number_value_with(value: object, strip: str | None) -> float:
    """`parse_number_value` with the column's number format (as `parse_numbers` reads it inside a column)."""
    if strip and isinstance(value, str):
        try:
            number = float(re.sub(_strip_pattern(strip), "", value))
        except ValueError:
            pass
        else:
            if np.isfinite(number):
                return number
    return parse_number_value(value)


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
