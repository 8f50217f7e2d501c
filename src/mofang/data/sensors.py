"""The anomaly label of sensor data: read as 1/0 (the columns an order's detectors watch are chosen by the
anomaly-detection task, `mofang.tasks.anomaly.data`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mofang.core.errors import DataError


def check_labels(values: pd.Series, column: str) -> None:
    """The anomaly label must read as 1/0 (true/false); DataError naming the column and bad values."""
    present = values.dropna()
    numbers = pd.to_numeric(present.astype(float) if present.dtype == bool else present, errors="coerce")
    bad = present[numbers.isna() | ~numbers.isin([0, 1])]
    if len(bad):
        raise DataError(f"anomaly label '{column}' must be 1 (anomalous reading) or 0 (normal); found "
                        f"{sorted({str(v) for v in bad.unique()[:5]})} in {len(bad):,} rows")


def labels_of(values: pd.Series) -> np.ndarray:
    """0/1 labels as an int array (missing counts as normal)."""
    numbers = pd.to_numeric(values.astype(float) if values.dtype == bool else values, errors="coerce")
    return (numbers.fillna(0).to_numpy(dtype=float) > 0.5).astype(int)
