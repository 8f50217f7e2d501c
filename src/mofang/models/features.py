"""FeaturePipeline: raw or typed rows → the matrix a model family trains on, fitted once on train."""

from __future__ import annotations

import math
import re
import sys
import warnings
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.preprocessing import OneHotEncoder

from mofang.core.errors import DataError

Mode = Literal["tree", "linear"]
DATE_PARTS = ("year", "month", "dayofweek", "dayofyear", "days")
MISSING = "__missing__"
SMALL_BATCH = 16  # up to this many rows, transform value by value (served requests): ~10x less overhead
_EPOCH = pd.Timestamp("1970-01-01")
_PLAIN_NUMBER = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")


def coerce_column(series: pd.Series, kind: str, dayfirst: bool | None = None,
                  formats: dict[str, Any] | None = None) -> pd.Series:
    """Raw values → the typed values of the data contract, via the data workshop's `coerce`.

    `dayfirst` is the date order the data workshop detected on the training column (a lone served
    "2023/1/5" cannot tell it); `formats` the number or date format it inferred there (the feature's
    `number_format` / `date_format`: read in one vectorised pass). Falls back to plain pandas conversion of
    already-typed values where `mofang.data` is absent."""
    try:
        from mofang.data import coerce
    except ImportError:
        return _fallback_coerce(series, kind)
    extra = {k: v for k, v in (formats or {}).items() if v}
    if kind == "datetime" and dayfirst is not None:
        return coerce(series, kind, dayfirst=dayfirst, **extra)
    return coerce(series, kind, **extra)


def _formats(feature: dict[str, Any]) -> dict[str, Any] | None:
    found = {k: feature[k] for k in ("number_format", "date_format") if feature.get(k)}
    return found or None


def _fallback_coerce(series: pd.Series, kind: str) -> pd.Series:
    if kind in ("numeric", "boolean"):
        if kind == "boolean" and series.dtype == object:
            series = series.map(lambda v: v if not isinstance(v, str) else v.strip().lower() in
                                ("1", "true", "yes", "y", "t"))
        return pd.to_numeric(series, errors="coerce").astype("float64")
    if kind == "datetime":
        return pd.to_datetime(series, errors="coerce")
    return series.astype(object).where(series.notna(), None).map(lambda v: v if v is None else str(v))


class FeaturePipeline:
    """Turns a frame with the dataset's feature columns into model input.

    `tree` mode keeps numerics (NaN stays) and turns categoricals into codes of the categories fixed at
    fit time (unknown → NaN), listed in `categorical_indices_` for the model's native categorical
    handling (a float matrix, not a `category` frame: pandas conversion tripled one-row latency);
    `linear` mode one-hot encodes categoricals, imputes numerics with
    the median, adds missing indicators and standardises. Datetimes become numeric parts in both modes.
    `sources_` maps each output column back to its source feature.
    """

    def __init__(self, features: list[dict[str, Any]], mode: Mode = "tree", min_frequency: int = 5,
                 max_categories: int = 64) -> None:
        self.features = [dict(f) for f in features]
        self.mode = mode
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    # -- fitting ---------------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame) -> FeaturePipeline:
        frame = self._typed(df)
        self.categories_: dict[str, list[str]] = {}
        self.encoders_: dict[str, OneHotEncoder] = {}
        for name in self._names("categorical"):
            values = frame[name].dropna().astype(str)
            if self.mode == "tree":
                counts = values.value_counts()
                self.categories_[name] = sorted(counts.index[: self.max_categories * 4].tolist())
            else:
                encoder = OneHotEncoder(handle_unknown="ignore", min_frequency=self.min_frequency,
                                        max_categories=self.max_categories, sparse_output=False,
                                        dtype=np.float64)
                self.encoders_[name] = encoder.fit(self._category_frame(frame, name))
        numeric = self._numeric_block(frame)
        self.numeric_columns_ = list(numeric.columns)
        if self.mode == "linear":
            values = numeric.to_numpy(dtype=float)
            with np.errstate(all="ignore"):
                medians = np.nanmedian(values, axis=0) if len(values) else np.zeros(values.shape[1])
            self.medians_ = np.where(np.isnan(medians), 0.0, medians)
            # a linear model extrapolates without limit: clip inputs to the training range (0.5–99.5%)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                low, high = (np.nanquantile(values, q, axis=0) if len(values) else np.full(values.shape[1], np.nan)
                             for q in (0.005, 0.995))
            self.clip_low_, self.clip_high_ = np.where(np.isnan(low), -np.inf, low), np.where(
                np.isnan(high), np.inf, high)
            self.indicators_ = [i for i in range(values.shape[1]) if np.isnan(values[:, i]).any()]
            filled = self._impute(values)
            self.mean_ = filled.mean(axis=0) if len(filled) else np.zeros(filled.shape[1])
            std = filled.std(axis=0) if len(filled) else np.ones(filled.shape[1])
            self.scale_ = np.where(std > 0, std, 1.0)
        self.sources_ = self._output_sources()
        n_numeric = len(self.numeric_columns_)
        self.categorical_indices_ = ([n_numeric + j for j in range(len(self._names("categorical")))]
                                     if self.mode == "tree" else [])
        return self

    # -- transforming ----------------------------------------------------------------------------
    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Model input for `df`: a float matrix with one row per input row."""
        if len(df) == 0:  # no rows (a refit with no validation rows left): the encoders refuse an empty column
            self.validate(df)
            return np.zeros((0, len(self.sources_)))
        if len(df) <= SMALL_BATCH:
            return self._transform_rows(df)
        return self._transform_frame(df)

    def _transform_frame(self, df: pd.DataFrame) -> np.ndarray:
        """Column-wise transform (vectorized pandas): the fast way for many rows."""
        frame = self._typed(df)
        numeric = self._numeric_block(frame)
        if self.mode == "tree":
            blocks = [numeric.to_numpy(dtype=float).reshape(len(frame), len(self.numeric_columns_))]
            for name in self._names("categorical"):
                values = frame[name].astype(object).where(frame[name].notna(), None)
                if pd.api.types.infer_dtype(values, skipna=True) != "string":  # else already strings (checked in C)
                    values = values.map(lambda v: v if v is None else str(v))
                codes = pd.Categorical(values, categories=self.categories_[name]).codes.astype(float)
                blocks.append(np.where(codes < 0, np.nan, codes).reshape(-1, 1))
            return np.hstack(blocks)
        values = self._impute(numeric.to_numpy(dtype=float))
        blocks = [(values - self.mean_) / self.scale_]
        for name, encoder in self.encoders_.items():
            blocks.append(encoder.transform(self._category_frame(frame, name)))
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))

    def _transform_rows(self, df: pd.DataFrame) -> np.ndarray:
        """Value-by-value transform for a few rows, the same numbers as `_transform_frame` (tested):
        per-column pandas calls cost ~1 ms each, which dominates one-row serving latency."""
        self.validate(df)
        n = len(df)
        values = {f["name"]: _aliased([coerce_value(v, f["kind"], f.get("dayfirst"), _formats(f))
                                       for v in df[f["name"]].tolist()], f.get("aliases"))
                  for f in self.features}
        numeric = np.empty((n, len(self.numeric_columns_)))
        j = 0
        for f in self.features:
            if f["kind"] in ("numeric", "boolean"):
                numeric[:, j] = values[f["name"]]
                j += 1
            elif f["kind"] == "datetime":
                numeric[:, j:j + len(DATE_PARTS)] = np.asarray([_date_parts(v) for v in values[f["name"]]],
                                                               dtype=float).reshape(n, len(DATE_PARTS))
                j += len(DATE_PARTS)
        if self.mode == "tree":
            blocks = [numeric]
            for name in self._names("categorical"):
                index = self._category_index(name)
                codes = [index.get(str(v), math.nan) if v is not None else math.nan for v in values[name]]
                blocks.append(np.asarray(codes, dtype=float).reshape(-1, 1))
            return np.hstack(blocks)
        blocks = [(self._impute(numeric) - self.mean_) / self.scale_]
        for name, encoder in self.encoders_.items():
            column = [MISSING if v is None else str(v) for v in values[name]]
            blocks.append(encoder.transform(pd.DataFrame({name: column})))
        return np.hstack(blocks)

    def _category_index(self, name: str) -> dict[str, int]:
        cache = self.__dict__.setdefault("_category_index_cache", {})
        if name not in cache:
            cache[name] = {c: i for i, c in enumerate(self.categories_[name])}
        return cache[name]

    def fit_transform(self, df: pd.DataFrame) -> np.ndarray:
        return self.fit(df).transform(df)

    def validate(self, df: pd.DataFrame) -> None:
        """Raise DataError naming every required feature column missing from `df`."""
        missing = [f["name"] for f in self.features if f["name"] not in df.columns]
        if missing:
            raise DataError(f"missing required columns: {', '.join(missing)}")

    # -- helpers ---------------------------------------------------------------------------------
    def _names(self, *kinds: str) -> list[str]:
        return [f["name"] for f in self.features if f["kind"] in kinds]

    def _typed(self, df: pd.DataFrame) -> pd.DataFrame:
        self.validate(df)
        df = df.reset_index(drop=True)
        typed = {}
        for f in self.features:
            column = coerce_column(df[f["name"]], f["kind"], f.get("dayfirst"), _formats(f))
            if f.get("aliases"):  # spellings the data workshop folded into one category, folded the same way
                column = column.map(lambda v, a=f["aliases"]: a.get(v, v) if isinstance(v, str) else v)
            typed[f["name"]] = column
        return pd.DataFrame(typed, index=df.index)

    def _numeric_block(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Numeric, boolean and datetime-part columns as floats, in a fixed order."""
        block: dict[str, Any] = {}
        for f in self.features:
            name, kind = f["name"], f["kind"]
            if kind in ("numeric", "boolean"):
                column = frame[name]
                block[name] = (column if column.dtype == np.float64
                               else pd.to_numeric(column, errors="coerce").astype(float))
            elif kind == "datetime":
                stamps = pd.to_datetime(frame[name], errors="coerce")
                if getattr(stamps.dt, "tz", None) is not None:
                    stamps = stamps.dt.tz_convert(None)
                parts = date_parts(stamps.to_numpy(dtype="datetime64[ns]"))
                for part in DATE_PARTS:
                    block[f"{name}__{part}"] = parts[part]
        return pd.DataFrame(block, index=frame.index)

    def _category_frame(self, frame: pd.DataFrame, name: str) -> pd.DataFrame:
        values = frame[name].astype(object).where(frame[name].notna(), MISSING).astype(str)
        return pd.DataFrame({name: values.to_numpy()})

    def _impute(self, values: np.ndarray) -> np.ndarray:
        """Linear mode: clip to the training range, fill gaps with the median, add missing indicators."""
        missing = np.isnan(values)
        low, high = getattr(self, "clip_low_", None), getattr(self, "clip_high_", None)
        if low is not None:
            values = np.clip(values, low, high)
        filled = np.where(missing, self.medians_, values)
        return np.hstack([filled, missing[:, self.indicators_].astype(float)])

    def _numeric_sources(self) -> list[str]:
        """The source feature of each numeric-block column (as `_numeric_block` orders them)."""
        sources: list[str] = []
        for f in self.features:
            if f["kind"] in ("numeric", "boolean"):
                sources.append(f["name"])
            elif f["kind"] == "datetime":
                sources += [f["name"]] * len(DATE_PARTS)
        return sources

    def _output_sources(self) -> list[str]:
        """The source feature of each output column, in output order."""
        numeric = self._numeric_sources()
        if self.mode == "tree":
            return numeric + self._names("categorical")
        sources = numeric + [numeric[i] for i in self.indicators_]
        for name, encoder in self.encoders_.items():
            sources += [name] * len(encoder.get_feature_names_out())
        return sources


def date_parts(stamps: np.ndarray) -> dict[str, np.ndarray]:
    """Year, month, day of week (Monday 0), day of year and days since 1970 of datetime64 values, as floats
    (NaT → NaN), in numpy alone: the pandas accessors cost a pass each."""
    missing = np.isnat(stamps)
    days = (stamps - np.datetime64("1970-01-01", "ns")) / np.timedelta64(1, "D")
    whole = stamps.astype("datetime64[D]")
    year_start = stamps.astype("datetime64[Y]")
    parts = {"year": year_start.astype(np.int64) + 1970.0,
             "month": stamps.astype("datetime64[M]").astype(np.int64) % 12 + 1.0,
             "dayofweek": (whole.astype(np.int64) + 3) % 7 + 0.0,  # 1970-01-01 was a Thursday
             "dayofyear": (whole - year_start.astype("datetime64[D]")).astype(np.int64) + 1.0,
             "days": days.astype(float)}
    return {k: np.where(missing, np.nan, v.astype(float)) for k, v in parts.items()}


def _aliased(values: list[Any], aliases: dict[str, str] | None) -> list[Any]:
    if not aliases:
        return values
    return [aliases.get(v, v) if isinstance(v, str) else v for v in values]


def coerce_value(value: Any, kind: str, dayfirst: bool | None = None, formats: dict[str, Any] | None = None) -> Any:
    """One raw value in its kind's form, exactly as `coerce_column` would give it inside a column.
    Plain numbers skip pandas; anything else goes through the data workshop's parser (cached). An integer
    beyond a double's range reads as NaN (unreadable) instead of overflowing."""
    formats = formats or {}
    if kind in ("numeric", "boolean") and isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, int) and not -sys.float_info.max <= value <= sys.float_info.max:
            return math.nan
        if kind == "numeric" or value in (0, 1) or math.isnan(value):
            return float(value)
    if kind == "numeric" and isinstance(value, str) and _PLAIN_NUMBER.match(value):
        return float(value)
    if kind == "numeric" and isinstance(value, str):  # amounts rarely repeat: parse without pandas
        from mofang.data.numeric import parse_number_value_with

        return parse_number_value_with(value, formats.get("number_format"))
    if kind == "datetime":
        from mofang.data.dates import parse_date_value

        return parse_date_value(value, dayfirst, formats.get("date_format"))
    try:
        return _coerce_cached(value, kind, dayfirst)
    except TypeError:  # unhashable (a list or dict sent as a value)
        return _coerce_one(value, kind, dayfirst)


@lru_cache(maxsize=100_000)
def _coerce_cached(value: Any, kind: str, dayfirst: bool | None) -> Any:
    return _coerce_one(value, kind, dayfirst)


def _coerce_one(value: Any, kind: str, dayfirst: bool | None) -> Any:
    result = coerce_column(pd.Series([value], dtype=object), kind, dayfirst).iloc[0]
    if kind in ("numeric", "boolean"):
        return float(result)
    if kind == "datetime":
        return None if pd.isna(result) else pd.Timestamp(result)
    return None if result is None or (isinstance(result, float) and math.isnan(result)) else result


def _date_parts(stamp: pd.Timestamp | None) -> list[float]:
    if stamp is None:
        return [math.nan] * len(DATE_PARTS)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(None)
    return [float(stamp.year), float(stamp.month), float(stamp.dayofweek), float(stamp.dayofyear),
            (stamp - _EPOCH).total_seconds() / 86400.0]
