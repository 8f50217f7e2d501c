"""Labelled anomaly windows (NAB's combined_windows.json or a plain list) turned into a 0/1 label column."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from mofang.core.errors import DataError
from mofang.data.split import time_keys


def label_from_windows(order: Any, data: pd.DataFrame, reads: list[Any]) -> tuple[pd.DataFrame, str]:
    """`data` with the order's target column set to 1 inside the windows of `order.anomaly.windows` and 0
    elsewhere, and a summary. Raises DataError naming the file, the key or the value that cannot be used."""
    path: Path = order.anomaly.windows
    column, time_column = order.target, order.time_column
    if column in data.columns:
        raise DataError(f"anomaly.windows would create the label column '{column}' (the order's target), but the "
                        "data already has one; drop the windows or name another target")
    if time_column not in data.columns:
        raise DataError(f"time column '{time_column}' (the order's 'time_column') is not in the data")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read anomaly windows {path}: {exc}") from None

    keys = time_keys(data[time_column], time_column)
    label = np.zeros(len(data), dtype=int)
    offset, used = 0, 0
    for read in reads:  # stacked sources, in order: each source's rows take the windows listed for its file
        rows = slice(offset, offset + read.rows)
        offset += read.rows
        windows = _windows_for(raw, Path(read.label).name, path)
        for k, window in enumerate(windows):
            start, end = _bounds(window, path, k, data[time_column])
            inside = (keys[rows] >= start) & (keys[rows] <= end)
            label[rows] = np.where(inside, 1, label[rows])
            used += 1
    out = data.copy()
    out[column] = label
    return out, (f"labelled {int(label.sum()):,} of {len(label):,} readings anomalous from {used} windows in "
                 f"{path.name} (column '{column}')")


def _windows_for(raw: Any, file_name: str, path: Path) -> list[Any]:
    if isinstance(raw, list):
        return raw
    if not isinstance(raw, dict):
        raise DataError(f"{path}: expected a list of [start, end] windows or an object of such lists by file")
    matches = [key for key in raw if PurePosixPath(str(key)).name == file_name]
    if not matches:
        raise DataError(f"{path} lists no windows for '{file_name}' (keys end with e.g. "
                        + ", ".join(sorted(PurePosixPath(str(k)).name for k in raw)[:5]) + ")")
    return [w for key in matches for w in raw[key]]


def _bounds(window: Any, path: Path, k: int, like: pd.Series) -> tuple[float, float]:
    if not isinstance(window, list | tuple) or len(window) != 2:
        raise DataError(f"{path}: window {k + 1} is {window!r}; write [start, end]")
    numeric = pd.api.types.is_numeric_dtype(like)
    values = pd.Series(list(window), dtype=float if numeric else object)
    try:
        start, end = time_keys(values, f"window {k + 1} of {path.name}")
    except DataError:
        raise DataError(f"{path}: window {k + 1} {window!r} does not read as two times") from None
    if end < start:
        raise DataError(f"{path}: window {k + 1} ends before it starts: {window!r}")
    return float(start), float(end)
