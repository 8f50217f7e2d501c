"""Class labels of classification targets: single labels as strings, multi-label targets as label lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mofang.core.tasks import spec as task_spec


def is_classification(task: Any) -> bool:
    """Whether `task` (a task name) predicts classes (`TaskSpec.classes`)."""
    return task_spec(str(getattr(task, "value", task))).classes


def split_labels(value: Any, separator: str) -> list[str]:
    """One multi-label target value ("教育|医疗") → its labels, stripped, in order, without repeats;
    an already-split list passes through; missing → []."""
    if isinstance(value, list | tuple | np.ndarray):
        parts = [str(v) for v in value]
    elif value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return []
    else:
        parts = str(value).split(separator)
    seen: dict[str, None] = {}
    for part in parts:
        part = part.strip()
        if part:
            seen.setdefault(part, None)
    return list(seen)


def label_lists(values: Iterable[Any], separator: str) -> list[list[str]]:
    """Every target value of a column split into its labels."""
    return [split_labels(v, separator) for v in values]


def label_set(values: Iterable[Any], separator: str) -> list[str]:
    """The sorted distinct labels of a multi-label target column."""
    return sorted({label for labels in label_lists(values, separator) for label in labels})


def indicator(lists: Sequence[Sequence[str]], classes: Sequence[str]) -> np.ndarray:
    """Label lists → a 0/1 matrix (rows × classes); labels outside `classes` are ignored."""
    index = {c: k for k, c in enumerate(classes)}
    out = np.zeros((len(lists), len(classes)), dtype=int)
    for i, labels in enumerate(lists):
        for label in labels:
            k = index.get(label)
            if k is not None:
                out[i, k] = 1
    return out


def as_object_array(lists: Sequence[Sequence[str]]) -> np.ndarray:
    """A 1-D object array whose items are label lists (numpy would make a 2-D array of equal lists)."""
    out = np.empty(len(lists), dtype=object)
    for i, labels in enumerate(lists):
        out[i] = list(labels)
    return out
