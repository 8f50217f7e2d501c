"""Lineage of augmented rows: which rows are synthetic and which real row each one derives from.

Every table that passed an augment tool has two columns:
  `__synthetic__` (bool)  True for a generated row, False for a real one;
  `__parent__` (int64)    the `__row__` of the real row a generated row derives from; a real row's own `__row__`.
So `__parent__` groups each real row with its offspring: a split that groups by it keeps a family together,
keeps synthetic rows out of valid/test, and drops those whose parent landed there.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mofang.data.ops import ROW

SYNTHETIC = "__synthetic__"
PARENT = "__parent__"


def with_lineage(table: pa.Table) -> pa.Table:
    """The table with `__synthetic__` and `__parent__`, added for real rows when absent."""
    if ROW not in table.column_names:
        raise ValueError(f"augmenting needs the row-number column {ROW!r}")
    if SYNTHETIC not in table.column_names:
        table = table.append_column(pa.field(SYNTHETIC, pa.bool_(), nullable=False),
                                    pa.array(np.zeros(table.num_rows, dtype=bool)))
    if PARENT not in table.column_names:
        table = table.append_column(pa.field(PARENT, pa.int64()), pc.cast(table.column(ROW), pa.int64()))
    return table


def real_positions(table: pa.Table) -> np.ndarray:
    """Positions of the real (not synthetic) rows of a table that has lineage."""
    return np.flatnonzero(~table.column(SYNTHETIC).to_numpy(zero_copy_only=False).astype(bool))


def append_derived(table: pa.Table, seeds: np.ndarray, values: Mapping[str, pa.Array | list | np.ndarray], *,
                   blank: tuple[str, ...] = ()) -> pa.Table:
    """Append one synthetic row per seed position: every column copied from its seed row except those in
    `values` (new values, cast to the column's type) and `blank` (set missing, e.g. the business id);
    fresh `__row__` numbers above the current maximum, `__synthetic__` True, `__parent__` the seed's parent."""
    table = with_lineage(table)
    if len(seeds) == 0:
        return table
    take = pa.array(np.asarray(seeds, dtype=np.int64))
    start = int(pc.max(table.column(ROW)).as_py() or 0) + 1
    columns = []
    for field in table.schema:
        if field.name == ROW:
            column = pa.array(np.arange(start, start + len(seeds)), type=field.type)
        elif field.name == SYNTHETIC:
            column = pa.array(np.ones(len(seeds), dtype=bool))
        elif field.name in values:
            column = _as_type(values[field.name], field.type)
        elif field.name in blank:
            column = pa.nulls(len(seeds), type=field.type)
        else:
            column = table.column(field.name).take(take)
        columns.append(column)
    return pa.concat_tables([table, pa.Table.from_arrays(columns, schema=table.schema)])


def _as_type(values: pa.Array | list | np.ndarray, type_: pa.DataType) -> pa.Array:
    if isinstance(values, np.ndarray) and values.dtype.kind == "f" and pa.types.is_integer(type_):
        values = pa.array(np.round(values), from_pandas=True)
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, from_pandas=True)
    return array.cast(type_)
