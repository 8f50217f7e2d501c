"""Train/valid/test split: stratified for classification, random for regression, seeded; or by time when the
order names a time column (train on the past, valid and test on the future)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mofang.core.errors import DataError
from mofang.data.dates import parse_dates

SHARES = (0.70, 0.15, 0.15)
MIN_ROWS = 30
MIN_CLASS_ROWS = 3  # one row each for train, valid and test


@dataclass
class Split:
    """Row positions of each part, and the classes too small to evaluate (kept in train only)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    rare_classes: dict[str, int] = field(default_factory=dict)


def split_rows(target: pd.Series, classification: bool, seed: int) -> Split:
    """Split positions 0..n-1; raise DataError when too few rows remain to train and evaluate."""
    n = len(target)
    if n < MIN_ROWS:
        raise DataError(f"only {n} usable rows remain; at least {MIN_ROWS} are needed to train, "
                        "validate and test a model")
    rng = np.random.default_rng(seed)
    if not classification:
        train, valid, test = _cut(rng.permutation(n))
        return Split(train, valid, test)
    parts: list[list[np.ndarray]] = [[], [], []]
    rare: dict[str, int] = {}
    counts = target.value_counts()
    labels = target.to_numpy()
    for label in sorted(counts.index):
        rows = np.flatnonzero(labels == label)
        if len(rows) < MIN_CLASS_ROWS:
            rare[str(label)] = len(rows)
            parts[0].append(rows)
            continue
        for part, chosen in zip(parts, _cut(rng.permutation(rows)), strict=True):
            part.append(chosen)
    evaluable = len(counts) - len(rare)
    if evaluable < 2:
        raise DataError(f"the target needs at least 2 classes with {MIN_CLASS_ROWS}+ rows to train and "
                        f"evaluate; class counts: {dict(counts.astype(int))}")
    train, valid, test = (np.sort(np.concatenate(p)) for p in parts)
    return Split(train, valid, test, rare)


def _cut(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(rows)
    n_test = max(1, int(round(SHARES[2] * n)))
    n_valid = max(1, int(round(SHARES[1] * n)))
    return rows[n_test + n_valid:], rows[n_test:n_test + n_valid], rows[:n_test]


def split_by_time(times: pd.Series, column: str, target: pd.Series | None = None,
                  classification: bool = False) -> Split:
    """Split positions 0..n-1 in time order: the earliest 70% train, the next 15% valid, the latest 15% test.

    Rows sharing a timestamp stay in one part, so every valid time is after every train time and every test
    time after every valid time (no future leakage). Positions in each part are in time order (ties by row
    order). Raises DataError naming the column and rows when a time cannot be read or too few rows remain."""
    n = len(times)
    if n < MIN_ROWS:
        raise DataError(f"only {n} usable rows remain; at least {MIN_ROWS} are needed to train, "
                        "validate and test a model")
    keys = time_keys(times, column)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    cuts = []
    for share in (SHARES[0], SHARES[0] + SHARES[1]):
        cut = int(round(share * n))
        cut = int(np.searchsorted(ordered, ordered[min(cut, n - 1)], side="left"))  # a tie stays together
        cuts.append(cut)
    train, valid, test = order[:cuts[0]], order[cuts[0]:cuts[1]], order[cuts[1]:]
    if not len(train) or not len(valid) or not len(test):
        raise DataError(f"time column '{column}' has too few distinct times to split into train, valid and test "
                        f"by time ({len(np.unique(ordered)):,} distinct values in {n:,} rows)")
    if classification and target is not None:
        labels = target.to_numpy()
        seen = pd.Series(labels[train]).nunique()
        if seen < 2:
            raise DataError(f"the earliest 70% of rows by '{column}' hold a single class of the target; a "
                            "time-aware split cannot train a classifier on them")
    return Split(train, valid, test)


def time_keys(times: pd.Series, column: str) -> np.ndarray:
    """Sortable keys of a time column: numbers (a row counter such as AI4I's UDI, epoch seconds) as they are,
    timestamps as nanoseconds; DataError naming rows when a value cannot be read."""
    if not pd.api.types.is_datetime64_any_dtype(times) and not pd.api.types.is_bool_dtype(times):
        values = pd.to_numeric(times, errors="coerce").to_numpy(dtype=float)  # ids kept as text read too
        if not np.isnan(values).all() or pd.api.types.is_numeric_dtype(times):
            _no_gaps(np.isnan(values), times, column)
            return values
    stamps = _iso_times(pd.Series(times).reset_index(drop=True))
    missing = stamps.isna().to_numpy()
    _no_gaps(missing, times, column)
    return stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(float)


def _iso_times(times: pd.Series) -> pd.Series:
    """datetime64 values: ISO 8601 text the fast way (a served window is parsed on every request), any other
    format through the data workshop's mixed-format date parser."""
    if pd.api.types.is_datetime64_any_dtype(times):
        return parse_dates(times)
    try:
        stamps = pd.to_datetime(times, format="ISO8601")
    except (ValueError, TypeError):
        return parse_dates(times)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.astype("datetime64[ns]")


def _no_gaps(missing: np.ndarray, times: pd.Series, column: str) -> None:
    if missing.any():
        rows = np.flatnonzero(missing)
        examples = [str(times.iloc[i]) for i in rows[:3]]
        raise DataError(f"time column '{column}': {len(rows):,} values are missing or not a time (rows "
                        f"{[int(r) + 1 for r in rows[:5]]}, e.g. {examples}); readings are ordered by it, so "
                        "every row needs one")
