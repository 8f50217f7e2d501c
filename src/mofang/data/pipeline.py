"""Run a process's operators over a table, and build the operator context from an order and its profile."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from mofang.data.ops import OpContext, Operator
from mofang.store.keys import tenant_key


def run_operators(table: pa.Table, operators: list[Operator], ctx: OpContext,
                  on_step: Callable[[int, int, str], None] | None = None) -> tuple[pa.Table, list[dict]]:
    """Apply operators in order; returns the table and each operator's trace (JSON-ready)."""
    traces = []
    for i, op in enumerate(operators):
        if on_step is not None:
            on_step(i, len(operators), op.name)
        table, trace = op(table, ctx)
        traces.append(trace.as_dict())
    if on_step is not None:
        on_step(len(operators), len(operators), "done")
    return table, traces


def op_context(*, tenant: str, seed: int, task: str | None, target: str | None, id_column: str | None,
               profile: dict, home: Path) -> OpContext:
    """The operators' view of a job: column kinds and date orders from the profile, the tenant's key."""
    columns = profile["columns"]
    return OpContext(tenant=tenant, seed=seed, task=task, target=target, id_column=id_column,
                     kinds={name: spec["kind"] for name, spec in columns.items()},
                     dayfirst={name: spec.get("dayfirst") for name, spec in columns.items()},
                     secret=tenant_key(home, tenant))
