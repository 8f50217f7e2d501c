"""Run a process's operators over a table, and build the operator context from an order and its profile."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from mofang.data.ops import OpContext, Operator
from mofang.security.keys import KeyRing, load_master_key
from mofang.store import MetaStore


def run_operators(table: pa.Table, operators: list[Operator], ctx: OpContext,
                  on_step: Callable[[int, int, str], None] | None = None) -> tuple[pa.Table, list[dict]]:
    """Apply operators in order; returns the table and each operator's trace (JSON-ready)."""
    traces = []
    for i, op in enumerate(operators):
        if on_step is not None:
            on_step(i, len(operators), op.name)
        refresh_kinds(ctx, table)
        table, trace = op(table, ctx)
        traces.append(trace.as_dict())
    if on_step is not None:
        on_step(len(operators), len(operators), "done")
    return table, traces


TYPED_KINDS = ("numeric", "boolean", "datetime")


def refresh_kinds(ctx: OpContext, table: pa.Table) -> None:
    """Keep the profiled kinds true to the table: a numeric column turned into pseudonym tokens (strings)
    by desensitization is an identifier now; a column an operator removed has no kind."""
    for name in list(ctx.kinds):
        if name not in table.column_names:
            del ctx.kinds[name]
            continue
        arrow = table.column(name).type
        if ctx.kinds[name] in TYPED_KINDS and (pa.types.is_string(arrow) or pa.types.is_large_string(arrow)) \
                and _holds_tokens(table.column(name)):
            ctx.kinds[name] = "identifier"


def _holds_tokens(column: pa.ChunkedArray) -> bool:
    """True when string values are pseudonym tokens (KIND_hex), not numbers or dates still to be parsed."""
    import pyarrow.compute as pc

    sample = column.drop_null().slice(0, 200)
    if len(sample) == 0:
        return False
    return bool(pc.all(pc.match_substring_regex(sample, r"^[A-Z]+_[0-9a-f]{6,}$")).as_py())


def op_context(*, tenant: str, seed: int, task: str | None, target: str | None, id_column: str | None,
               profile: dict, home: Path, meta: MetaStore) -> OpContext:
    """The operators' view of a job: column kinds and date orders from the profile, the tenant's key."""
    columns = profile["columns"]
    return OpContext(tenant=tenant, seed=seed, task=task, target=target, id_column=id_column,
                     kinds={name: spec["kind"] for name, spec in columns.items()},
                     dayfirst={name: spec.get("dayfirst") for name, spec in columns.items()},
                     secret=pseudonym_key(meta, home, tenant),
                     executor=os.environ.get("MOFANG_DATA_EXECUTOR", "local"))


def pseudonym_key(meta: MetaStore, home: Path, tenant: str) -> bytes:
    """The tenant's pseudonym key: derived from its data key (wrapped by the master key in the metadata
    store), so destroying the tenant's key also ends the linkability of its pseudonyms."""

    return KeyRing(meta, load_master_key(home)).pseudonym_key(tenant)
