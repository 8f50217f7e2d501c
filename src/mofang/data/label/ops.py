"""Label-process operators: `label.map` (canonical class names) and `label.rules` (weak labels by rules)."""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mofang.data.ops import OpContext, Operator, OpParams, OpTrace, RecipeError, register

WEAK = "__weak_label__"  # True where label.rules wrote the label


class MapParams(OpParams):
    mapping: dict[str, str] = Field(description="raw label → class name, e.g. {'1': '违约', '0': '正常'}")
    unmapped: Literal["keep", "missing", "error"] = Field("keep", description="labels the mapping lacks")


@register
class MapLabels(Operator):
    """Rename target values to the class names the customer wants to see in reports and predictions."""

    name = "label.map"
    process = "label"
    description = "map raw target values to canonical class names; unmapped values kept, blanked or refused"
    Params = MapParams

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        params: MapParams = self.params  # type: ignore[assignment]
        target = _target(table, ctx, self.name)
        values = table.column(target).cast(pa.string()).to_pylist()
        unknown = sorted({v for v in values if v is not None and v not in params.mapping})
        if unknown and params.unmapped == "error":
            raise RecipeError(f"operator 'label.map': target values without a mapping: {unknown[:10]}",
                              field="mapping")
        out = [params.mapping.get(v, None if params.unmapped == "missing" else v) if v is not None else None
               for v in values]
        trace.change(target, sum(a != b for a, b in zip(values, out, strict=True)))
        trace.details.update({"mapping": params.mapping, "unmapped": unknown[:20]})
        return table.set_column(table.column_names.index(target), target, pa.array(out, pa.string()))


class Rule(BaseModel):
    """Rows whose text contains any keyword (or matches the pattern) get `label`."""

    model_config = ConfigDict(extra="forbid")

    label: str
    keywords: list[str] = Field(default_factory=list)
    pattern: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"pattern {value!r} is not a valid regular expression: {exc}") from None
        return value


class RulesParams(OpParams):
    rules: list[Rule] = Field(min_length=1)
    overwrite: bool = Field(False, description="also relabel rows that have a label (default: fill gaps only)")


@register
class RuleLabels(Operator):
    """Weak supervision: fill missing labels from keyword/regex rules over the text columns. A row two
    rules with different labels match stays unlabeled; every labeled row is marked in `__weak_label__`."""

    name = "label.rules"
    process = "label"
    description = "fill missing labels by keyword/regex rules over text; conflicting matches left unlabeled"
    Params = RulesParams

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        params: RulesParams = self.params  # type: ignore[assignment]
        target = _target(table, ctx, self.name)
        columns = self.target_columns(table, ctx, ("text", "categorical"))
        columns = [c for c in columns if pa.types.is_string(table.column(c).type)]
        if not columns:
            trace.details["note"] = "no text columns to apply rules to"
            return table
        text = table.column(columns[0]) if len(columns) == 1 else pc.binary_join_element_wise(
            *[pc.fill_null(table.column(c), "") for c in columns], "\n")
        text = pc.fill_null(text, "")
        labels = table.column(target).cast(pa.string()).to_pylist()
        todo = np.array([params.overwrite or v is None for v in labels])
        chosen: list[str | None] = [None] * len(labels)
        conflict = np.zeros(len(labels), dtype=bool)
        hits: dict[str, int] = {}
        for rule in params.rules:
            pattern = "|".join([re.escape(k) for k in rule.keywords] + ([rule.pattern] if rule.pattern else []))
            if not pattern:
                continue
            match = pc.match_substring_regex(text, pattern).to_numpy(zero_copy_only=False) & todo
            hits[rule.label] = hits.get(rule.label, 0) + int(match.sum())
            for i in np.flatnonzero(match):
                if chosen[i] is not None and chosen[i] != rule.label:
                    conflict[i] = True
                chosen[i] = chosen[i] or rule.label
        out, weak, written = list(labels), np.zeros(len(labels), dtype=bool), 0
        for i in np.flatnonzero(todo & ~conflict):
            if chosen[i] is not None:
                written += out[i] != chosen[i]
                out[i], weak[i] = chosen[i], True
        trace.change(target, written)
        trace.details.update({"matches_per_label": hits, "labeled": int(weak.sum()),
                              "conflicts_left_unlabeled": int(conflict.sum()),
                              "note": f"{int(weak.sum()):,} rows labeled by rules, {int(conflict.sum()):,} conflicts"})
        table = table.set_column(table.column_names.index(target), target, pa.array(out, pa.string()))
        previous = table.column(WEAK).to_numpy(zero_copy_only=False) if WEAK in table.column_names else None
        flags = pa.array(weak | previous if previous is not None else weak)
        if previous is not None:
            return table.set_column(table.column_names.index(WEAK), WEAK, flags)
        return table.append_column(WEAK, flags)


def _target(table: pa.Table, ctx: OpContext, op: str) -> str:
    if not ctx.target or ctx.target not in table.column_names:
        raise RecipeError(f"operator '{op}' needs the order's target column in the data")
    return ctx.target
