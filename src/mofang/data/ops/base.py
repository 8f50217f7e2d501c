"""The operator contract: a named tool with strict params that transforms an Arrow table and says what it did."""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, ValidationError

from mofang.core.errors import MofangError
from mofang.core.tasks import spec as task_spec

ROW = "__row__"  # 1-based row number across the stacked sources; every table an operator sees has it
SAMPLE = 50  # dropped rows listed by id in a trace; the count is always complete
PROCESSES = ("normalize", "clean", "deduplicate", "desensitize", "quality", "label", "augment", "validate")


class RecipeError(MofangError):
    """A recipe step that names an unknown operator or gives it bad params."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field, self.reason = field, message
        super().__init__(f"field '{field}': {message}" if field else message)


class OpParams(BaseModel):
    """Base of every operator's params: unknown keys are errors; `columns` narrows what it touches."""

    model_config = ConfigDict(extra="forbid")

    columns: list[str] | None = None  # None: the operator picks the columns of the kinds it handles


@dataclass
class OpContext:
    """What an operator may know about the job: roles and kinds of columns, the seed, the tenant's key."""

    tenant: str = "local"
    seed: int = 42
    task: str | None = None
    target: str | None = None
    id_column: str | None = None
    kinds: dict[str, str] = field(default_factory=dict)  # column -> numeric/categorical/text/datetime/...
    dayfirst: dict[str, bool | None] = field(default_factory=dict)  # datetime columns read dd/mm (True) or mm/dd
    secret: bytes | None = None  # the tenant's key for keyed pseudonyms (HMAC)
    batch_rows: int = 65_536
    on_progress: Callable[[int, int, str], None] | None = None
    executor: str = "local"  # "ray": batched operators run their batches over Ray Data (same code)

    @property
    def classes(self) -> bool:
        """The job's task has a target with classes (the registry's `TaskSpec.classes`); False without a task."""
        return bool(self.task) and task_spec(str(self.task)).classes

    @property
    def text_features(self) -> bool:
        """The job's task reads text columns as its features (`TaskSpec.text` "features"); False without a task."""
        return bool(self.task) and task_spec(str(self.task)).text == "features"

    def columns_of(self, table: pa.Table, kinds: Iterable[str]) -> list[str]:
        """Columns of `table` whose profiled kind is one of `kinds`, roles (row, id, target) excluded."""
        wanted = set(kinds)
        return [n for n in table.column_names
                if n not in (ROW, self.id_column, self.target) and self.kinds.get(n) in wanted]

    def row_ids(self, table: pa.Table, positions: Iterable[int]) -> list[Any]:
        """How rows are named in traces: by the order's id column when it has one, else by row number."""
        name = self.id_column if self.id_column in table.column_names else ROW
        if name not in table.column_names:
            return [int(p) + 1 for p in positions]
        column = table.column(name)
        return [column[int(p)].as_py() for p in positions]


@dataclass
class OpTrace:
    """What one operator did: rows in and out, cells changed per column, rows dropped and why."""

    op: str
    process: str
    params: dict[str, Any] = field(default_factory=dict)
    rows_in: int = 0
    rows_out: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    dropped_rows: list[dict[str, Any]] = field(default_factory=list)  # first SAMPLE: {"row": id, "reason": ...}
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def change(self, column: str, cells: int) -> None:
        if cells:
            self.changed[column] = self.changed.get(column, 0) + int(cells)

    def drop(self, ids: Iterable[Any], reason: str | Iterable[str]) -> None:
        ids = list(ids)
        reasons = [reason] * len(ids) if isinstance(reason, str) else list(reason)
        self.dropped += len(ids)
        room = SAMPLE - len(self.dropped_rows)
        self.dropped_rows.extend({"row": i, "reason": r} for i, r in zip(ids[:room], reasons[:room], strict=False))

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "process": self.process, "params": self.params, "rows_in": self.rows_in,
                "rows_out": self.rows_out, "changed": self.changed, "dropped": self.dropped,
                "dropped_rows": self.dropped_rows, "details": self.details, "seconds": round(self.seconds, 3)}

    def summary(self) -> str:
        parts = [f"{self.op}:"]
        if self.changed:
            parts.append(f"{sum(self.changed.values()):,} cells changed in {len(self.changed)} columns")
        if self.dropped:
            parts.append(f"{self.dropped:,} rows dropped")
        if not self.changed and not self.dropped:
            parts.append("nothing to change")
        note = self.details.get("note")
        return " ".join(parts) + (f" ({note})" if note else "")


class Operator:
    """Base class of every data tool. A subclass sets `name` (stable, dotted), `process`, `Params`,
    a one-line `description`, and implements `transform` (whole table) — or `transform_batch` with
    `batched = True` when each row is handled on its own, so the table is processed in Arrow batches."""

    name: ClassVar[str]
    process: ClassVar[str]
    description: ClassVar[str] = ""
    Params: ClassVar[type[OpParams]] = OpParams
    batched: ClassVar[bool] = False

    def __init__(self, params: Mapping[str, Any] | OpParams | None = None, *, where: str | None = None) -> None:
        self.params = parse_params(type(self), params, where=where)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return  # an abstract intermediate base
        if getattr(cls, "process", None) not in PROCESSES:
            raise TypeError(f"operator {cls.name!r}: process must be one of {PROCESSES}")
        if not issubclass(cls.Params, OpParams):
            raise TypeError(f"operator {cls.name!r}: Params must subclass OpParams")

    def __call__(self, table: pa.Table, ctx: OpContext) -> tuple[pa.Table, OpTrace]:
        trace = OpTrace(op=self.name, process=self.process,
                        params=self.params.model_dump(exclude_defaults=True), rows_in=table.num_rows)
        started = time.perf_counter()
        if self.batched and ctx.executor == "ray" and table.num_rows > ctx.batch_rows:
            from mofang.data.ops.raydata import map_batches_on_ray  # Ray is optional and heavy: loaded when used

            out = map_batches_on_ray(self, table, ctx, trace)
        elif self.batched and table.num_rows > ctx.batch_rows:
            parts = []
            for start in range(0, table.num_rows, ctx.batch_rows):
                parts.append(self.transform_batch(table.slice(start, ctx.batch_rows), ctx, trace))
                if ctx.on_progress is not None:
                    done = min(start + ctx.batch_rows, table.num_rows)
                    ctx.on_progress(done, table.num_rows, self.name)
            out = pa.concat_tables(parts)
        elif self.batched:
            out = self.transform_batch(table, ctx, trace)
        else:
            out = self.transform(table, ctx, trace)
        trace.rows_out = out.num_rows
        trace.seconds = time.perf_counter() - started
        return out, trace

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        raise NotImplementedError(f"operator {self.name!r} implements neither transform nor transform_batch")

    def transform_batch(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        return self.transform(table, ctx, trace)

    def target_columns(self, table: pa.Table, ctx: OpContext, kinds: Iterable[str]) -> list[str]:
        """The params' `columns` (each must exist) or else the table's columns of the given kinds."""
        named = self.params.columns
        if named is None:
            return ctx.columns_of(table, kinds)
        absent = [c for c in named if c not in table.column_names]
        if absent:
            hints = [f"'{c}'" + (f" (did you mean '{m[0]}'?)" if (m := difflib.get_close_matches(
                c, table.column_names, n=1)) else "") for c in absent]
            raise RecipeError(f"operator {self.name!r} names columns the data does not have: {', '.join(hints)}",
                              field="columns")
        return list(named)


def parse_params(cls: type[Operator], params: Mapping[str, Any] | OpParams | None, *,
                 where: str | None = None) -> OpParams:
    """Validate params strictly; an unknown key names the expected ones and the closest match."""
    if isinstance(params, cls.Params):
        return params
    raw = dict(params or {})
    expected = list(cls.Params.model_fields)
    for key in raw:
        if key not in cls.Params.model_fields:
            close = difflib.get_close_matches(key, expected, n=1)
            hint = f" — did you mean '{close[0]}'?" if close else ""
            raise RecipeError(f"unknown parameter '{key}' for operator '{cls.name}'{hint} "
                              f"(expected: {', '.join(expected)})", field=_at(where, key))
    try:
        return cls.Params(**raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise RecipeError(f"operator '{cls.name}': {first['msg']}", field=_at(where, loc)) from None


def _at(where: str | None, key: str) -> str:
    return f"{where}.{key}" if where else key
