"""Apply a vectorized parser once per distinct value and spread the result back over the rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def per_unique(values: pd.Series, parse: Callable[[pd.Series], pd.Series], fill: object) -> pd.Series:
    """parse(distinct non-null values) → values aligned with them; rows that were null get `fill`."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    parsed = parse(pd.Series(uniques, dtype=object))
    out = parsed.to_numpy()
    if len(out) == 0:
        return pd.Series([fill] * len(values), index=values.index, dtype=parsed.dtype)
    picked = out[np.where(codes < 0, 0, codes)]
    result = pd.Series(picked, index=values.index, dtype=parsed.dtype)
    return result.mask(codes < 0, fill) if (codes < 0).any() else result


def value_counts_of(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The distinct non-null values (object Series) and how many rows hold each."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    return pd.Series(uniques, dtype=object), counts
