"""Sort-based set operations on integer arrays (numpy's `unique` takes a far slower path on large inputs)."""

from __future__ import annotations

import numpy as np


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values, ascending."""
    ordered = np.sort(values, axis=None)
    if ordered.size < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def first_of_group(keys: np.ndarray) -> np.ndarray:
    """Per element, the position of the first element with the same key."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.concatenate(([True], ordered[1:] != ordered[:-1])) if ordered.size else np.zeros(0, bool)
    first = np.empty(keys.size, dtype=np.int64)
    first[order] = order[starts][np.cumsum(starts) - 1]
    return first
