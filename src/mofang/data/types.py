"""Column kinds: infer a kind from string values and coerce values of any form into that kind."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

from mofang.data.dates import detect_dayfirst, infer_date_format, parse_date_strings, parse_dates
from mofang.data.missing import MISSING, to_text
from mofang.data.numeric import infer_number_format, parse_numbers
from mofang.data.uniques import per_unique, value_counts_of

KINDS = ("numeric", "categorical", "datetime", "boolean", "text", "identifier")
FEATURE_KINDS = ("numeric", "categorical", "datetime", "boolean")
PARSE_SHARE = 0.95  # a column is numeric/datetime when this share of its non-missing values parse
TEXT_MEAN_LENGTH = 30
SHORT_TEXT_LENGTH = 8
_WORDY = re.compile(r"[\u4e00-\u9fff][^\w]*[\u4e00-\u9fff][^\w]*[\u4e00-\u9fff]|[A-Za-z]+\s+[A-Za-z]+\s+[A-Za-z]+")

_TRUE = frozenset({"是", "y", "yes", "true", "t", "1", "1.0", "对", "真"})
_FALSE = frozenset({"否", "n", "no", "false", "f", "0", "0.0", "错", "假"})
_BOOLEAN = {**dict.fromkeys(_TRUE, 1.0), **dict.fromkeys(_FALSE, 0.0)}
_SPACES = re.compile(r"\s+")
_EIGHT_DIGIT_DATE = r"(?:19|20)\d{2}[01]\d[0-3]\d"


def infer_kind(series: pd.Series) -> str:
    """The kind of a column: numeric, categorical, datetime, boolean, text or identifier."""
    if is_bool_dtype(series.dtype):
        return "boolean"
    if is_datetime64_any_dtype(series.dtype):
        return "datetime"
    uniques, counts = _present_counts(series)
    total = int(counts.sum())
    if total == 0:
        return "categorical"
    if is_numeric_dtype(series.dtype):
        return "identifier" if _integer_run(parse_numbers(series)) else "numeric"
    if len(uniques) <= 2 * len(_BOOLEAN):
        keys = uniques.map(to_text).astype("string").str.normalize("NFKC").str.strip().str.lower()
        if keys.isin(_BOOLEAN).all() and keys.map(_BOOLEAN).nunique() <= 2:
            return "boolean"
    numbers = parse_numbers(uniques)
    if counts[numbers.notna().to_numpy()].sum() >= PARSE_SHARE * total:
        texts = uniques.map(to_text).str.strip()
        if texts.str.fullmatch(_EIGHT_DIGIT_DATE).all() and parse_date_strings(uniques).notna().all():
            return "datetime"  # 20230105 everywhere: a date written without separators
        return "identifier" if _integer_run(parse_numbers(series)) else "numeric"
    if counts[parse_date_strings(uniques).notna().to_numpy()].sum() >= PARSE_SHARE * total:
        return "datetime"
    lengths = uniques.map(to_text).str.strip().str.len().to_numpy(dtype=float)
    mean_length = float((lengths * counts).sum() / total)
    if len(uniques) >= max(20, 0.2 * total) and (mean_length > TEXT_MEAN_LENGTH or (
            mean_length >= SHORT_TEXT_LENGTH and _wordy_share(uniques) >= 0.5)):
        return "text"  # reviews and tickets are often short (median 17 characters), but never codes
    if total >= 20 and len(uniques) >= 0.98 * total:
        return "identifier"
    return "categorical"


def coerce(series: pd.Series, kind: str, *, dayfirst: bool | None = None, number_format: str | None = None,
           date_format: str | None = None) -> pd.Series:
    """Values of a column in its kind's form; idempotent, accepts strings, numbers, None.

    numeric/boolean → float64 (NaN), datetime → datetime64[ns] (NaT), others → str objects (None).
    `number_format` / `date_format`: the column's formats inferred at training (`infer_formats`), read in
    one vectorised pass (values written otherwise still go through the general parsers).
    """
    if kind == "numeric":
        return parse_numbers(series, number_format)
    if kind == "boolean":
        return parse_booleans(series)
    if kind == "datetime":
        return parse_dates(series, dayfirst, date_format)
    if kind in ("categorical", "text", "identifier"):
        return normalize_labels(series)
    raise ValueError(f"unknown kind '{kind}' (expected one of: {', '.join(KINDS)})")


def infer_formats(series: pd.Series, kind: str) -> dict[str, str]:
    """The formats of a raw training column that serving reads vectorised: {"number_format": ...} or
    {"date_format": ...} where one is found, else {}."""
    if kind == "numeric":
        found = infer_number_format(series)
        return {"number_format": found} if found else {}
    if kind == "datetime":
        found = infer_date_format(series)
        return {"date_format": found} if found else {}
    return {}


def date_order(series: pd.Series) -> bool | None:
    """For a datetime column of strings: True when read day-first, False month-first, None if moot."""
    if is_datetime64_any_dtype(series.dtype):
        return None
    return detect_dayfirst(series)


def parse_booleans(series: pd.Series) -> pd.Series:
    """1.0 / 0.0 for 是/否, Y/N, yes/no, true/false, 1/0; NaN otherwise."""
    if is_bool_dtype(series.dtype) or is_numeric_dtype(series.dtype):
        values = series.astype("float64")
        return values.where(values.isin([0.0, 1.0]), np.nan)
    return per_unique(series.astype(object), _booleans_of, np.nan).astype("float64")


def normalize_labels(series: pd.Series) -> pd.Series:
    """NFKC (full-width → half-width), stripped, whitespace collapsed; missing spellings → None."""
    return per_unique(series.astype(object), _labels_of, None).astype(object)


def _booleans_of(values: pd.Series) -> pd.Series:
    keys = values.map(to_text).astype("string").str.normalize("NFKC").str.strip().str.lower()
    return keys.map(_BOOLEAN).astype("float64")


def _labels_of(values: pd.Series) -> pd.Series:
    text = values.map(to_text).astype("string").str.normalize("NFKC").str.strip()
    text = text.str.replace(_SPACES, " ", regex=True)
    return text.astype(object).where(~text.isin(MISSING).to_numpy(dtype=bool), None)


def _wordy_share(uniques: pd.Series) -> float:
    """Share of distinct values that read as language (3+ Chinese characters, or 3+ words), not codes."""
    sample = uniques.head(2000).map(to_text)
    return float(sample.str.contains(_WORDY).mean()) if len(sample) else 0.0


def _present_counts(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Distinct non-missing values and their row counts (missing spellings are checked once each)."""
    uniques, counts = value_counts_of(series.dropna())
    if series.dtype == object and len(uniques):
        keep = ~uniques.map(to_text).str.strip().isin(MISSING).to_numpy(dtype=bool)
        uniques, counts = uniques[keep].reset_index(drop=True), counts[keep]
    return uniques, counts


def _integer_run(numbers: pd.Series) -> bool:
    """A row counter: distinct integers rising (or falling) through the file without big gaps."""
    values = numbers.dropna()
    if len(values) < 20 or not (values == np.round(values)).all():
        return False
    if values.nunique() < 0.99 * len(values):
        return False
    monotonic = values.is_monotonic_increasing or values.is_monotonic_decreasing
    return bool(monotonic and values.max() - values.min() + 1 <= 2 * len(values))
