"""Exact duplicate rows: rows equal on the chosen columns, strings compared after normalization."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mofang.data.dedup.arrays import first_of_group
from mofang.data.dedup.shingles import comparable_text


def _is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type)


def _codes(column: pa.ChunkedArray | pa.Array, normalize: bool) -> tuple[np.ndarray, int]:
    """Integer codes of a column's values (equal values, equal codes; null its own code) and how many there are."""
    if normalize and _is_text(column.type):
        column = comparable_text(column)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not (pa.types.is_primitive(column.type) or _is_text(column.type) or pa.types.is_binary(column.type)):
        column = pc.cast(column, pa.string()) if pa.types.is_dictionary(column.type) else \
            pa.array([repr(v) for v in column.to_pylist()])
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    return np.asarray(encoded.indices, dtype=np.int64), len(encoded.dictionary)


def duplicate_of(table: pa.Table, columns: list[str], *, normalize: bool = True) -> np.ndarray:
    """Per row, the position of the first row with the same values in `columns` (its own position when first)."""
    key = np.zeros(table.num_rows, dtype=np.int64)
    for name in columns:
        codes, size = _codes(table.column(name), normalize)
        key = key * size + codes
        if len(columns) > 1:  # keep the combined key small: renumber by first occurrence
            first = first_of_group(key)
            key = np.searchsorted(np.sort(first), first)  # dense, order-preserving relabel
    return first_of_group(key)
