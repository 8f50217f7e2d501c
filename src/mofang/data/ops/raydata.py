"""Batched (row-wise) data operators over Ray Data: the operator's own `transform_batch`, run on Ray workers.

`map_batches_on_ray(op, table, ctx, trace)` is a drop-in for the local batch loop in `Operator.__call__`:
the table is cut into `ctx.batch_rows` batches by `ray.data.from_arrow(...).map_batches(...)`, each batch is
transformed by the same operator code with a fresh trace, and the results are put back in order. The traces
are folded in batch order the way the local loop accumulates one trace (counts add up; samples keep the
first ones up to their cap), so the table and the data card are the same on both executors.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa

from mofang.core.raycluster import connect
from mofang.data.ops.base import SAMPLE, OpContext, Operator, OpTrace

_POSITION = "__mofang_position__"
LIST_CAP = 3  # samples an operator keeps per key in `details` (normalize's before/after examples)


def map_batches_on_ray(op: Operator, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
    """Transform `table` with `op.transform_batch` over Ray Data batches; fills `trace`, returns the table."""
    import ray

    if not ray.is_initialized():
        connect()
    remote_ctx = replace(ctx, on_progress=None)  # a callback into this process does not travel
    indexed = table.append_column(_POSITION, pa.array(np.arange(table.num_rows, dtype=np.int64)))

    def apply(batch: pa.Table) -> dict[str, list[Any]]:
        start = int(batch.column(_POSITION)[0].as_py()) if batch.num_rows else -1
        part = OpTrace(op=op.name, process=op.process, params=trace.params)
        out = op.transform_batch(batch.drop_columns([_POSITION]), remote_ctx, part)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, out.schema) as writer:
            writer.write_table(out)
        return {"start": [start], "table": [sink.getvalue().to_pybytes()], "trace": [pickle.dumps(part)]}

    import ray.data

    context = ray.data.DataContext.get_current()
    keep = context.execution_options.preserve_order
    context.execution_options.preserve_order = True
    try:
        rows = (ray.data.from_arrow(indexed)
                .map_batches(apply, batch_format="pyarrow", batch_size=ctx.batch_rows, zero_copy_batch=True)
                .take_all())
    finally:
        context.execution_options.preserve_order = keep
    rows.sort(key=lambda r: r["start"])
    parts = []
    for row in rows:
        parts.append(pa.ipc.open_stream(row["table"]).read_all())
        merge_trace(trace, pickle.loads(row["trace"]))  # noqa: S301 - our own workers' objects
        if ctx.on_progress is not None:
            ctx.on_progress(sum(p.num_rows for p in parts), table.num_rows, op.name)
    if not parts:
        return table.slice(0, 0)
    return pa.concat_tables(parts)


def merge_trace(into: OpTrace, part: OpTrace, list_cap: int = LIST_CAP) -> None:
    """Fold one batch's trace into the running one, as if the batch had been traced into it directly."""
    for column, cells in part.changed.items():
        into.change(column, cells)
    into.dropped += part.dropped
    into.dropped_rows = (into.dropped_rows + part.dropped_rows)[:SAMPLE]
    into.details = _merge(into.details, part.details, list_cap)


def _merge(a: Any, b: Any, cap: int) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        merged = dict(a)
        for key, value in b.items():
            merged[key] = _merge(a[key], value, cap) if key in a else value
        return merged
    if isinstance(a, list) and isinstance(b, list):
        return (a + b)[:cap]
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return a + b
    return a  # a note or a label: the first batch's stands
