"""Dense numeric matrices from table columns, for the models and distances the quality and augment tools use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MISSING = "\x00missing"  # stands for a missing category while encoding; never written back


def numeric_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A column as float64 with NaN for missing values."""
    return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)


def category_codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list]:
    """Integer codes per row and the distinct values they stand for (a missing value is a category of its own)."""
    codes, uniques = pd.factorize(pd.Series(column.to_pylist(), dtype=object), use_na_sentinel=False)
    return codes.astype(np.int64), list(uniques)


def tabular_matrix(table: pa.Table, numeric: list[str], categorical: list[str], *, standardize: bool = False,
                   max_categories: int = 30) -> np.ndarray:
    """Median-imputed numeric columns and one-hot categoricals (the `max_categories` most frequent values
    per column, the rest sharing one column). With `standardize`, numerics get zero mean and unit variance
    and each categorical mismatch adds 1 to the squared distance, so neither kind dominates a distance."""
    parts = []
    for name in numeric:
        values = numeric_values(table.column(name))
        median = np.nanmedian(values) if np.isfinite(values).any() else 0.0
        values = np.where(np.isfinite(values), values, median)
        if standardize:
            std = values.std()
            values = (values - values.mean()) / (std if std > 0 else 1.0)
        parts.append(values[:, None])
    for name in categorical:
        codes, _ = category_codes(table.column(name))
        counts = np.bincount(codes)
        kept = np.argsort(-counts, kind="stable")[:max_categories]
        remap = np.full(counts.size, kept.size, dtype=np.int64)
        remap[kept] = np.arange(kept.size)
        onehot = np.zeros((codes.size, kept.size + 1))
        onehot[np.arange(codes.size), remap[codes]] = 1.0 / np.sqrt(2) if standardize else 1.0
        parts.append(onehot[:, onehot.any(axis=0)])
    return np.hstack(parts) if parts else np.zeros((table.num_rows, 0))


def numeric_and_categorical(table: pa.Table, kinds: dict[str, str], columns: list[str]) -> tuple[list[str], list[str]]:
    """Split columns into numeric and categorical (boolean included) by their profiled kind, or by Arrow type
    when unprofiled; other kinds (text, datetime, identifier) are left out."""
    numeric, categorical = [], []
    for name in columns:
        kind = kinds.get(name)
        if kind is None:
            type_ = table.schema.field(name).type
            kind = "numeric" if pa.types.is_integer(type_) or pa.types.is_floating(type_) else (
                "categorical" if pa.types.is_string(type_) or pa.types.is_boolean(type_) else None)
        if kind == "numeric":
            numeric.append(name)
        elif kind in ("categorical", "boolean"):
            categorical.append(name)
    return numeric, categorical
