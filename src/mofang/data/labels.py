"""Canonical target values: class labels as strings ("1", "是"), regression targets as floats."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mofang.data.numeric import parse_numbers
from mofang.data.types import normalize_labels


def class_labels(series: pd.Series) -> pd.Series:
    """Labels as canonical strings; numeric labels lose float noise (1.0 → "1", 0.50 → "0.5")."""
    labels = normalize_labels(series)
    present = labels.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    if len(present) and numbers.notna().all():
        canonical = numbers.map(lambda v: str(int(v)) if float(v).is_integer() else format(float(v), "g"))
        labels = labels.astype(object)
        labels[present.index] = canonical
    return labels.astype(object)


def regression_values(series: pd.Series) -> pd.Series:
    """Targets as float64; unparsable values become NaN (and are dropped with the missing ones)."""
    values = parse_numbers(series)
    return values.where(np.isfinite(values), np.nan)
