"""augment.text: more training texts for text classification by small label-preserving edits."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from mofang.data.augment.lineage import append_derived, real_positions, with_lineage
from mofang.data.augment.text_edits import augment_text
from mofang.data.ops import ROW, OpContext, Operator, OpParams, OpTrace, register
from mofang.data.quality.balance import class_counts

Edit = Literal["delete", "swap", "punctuation", "synonym"]


@register
class TextAugment(Operator):
    name = "augment.text"
    process = "augment"
    description = "Add edited copies of texts (char deletion/swap, punctuation, synonyms) for text classification"

    class Params(OpParams):
        factor: float = Field(1.0, gt=0, le=20)  # new rows per selected real row
        ops: list[Edit] = Field(default_factory=lambda: ["delete", "swap", "punctuation", "synonym"], min_length=1)
        rate: float = Field(0.1, gt=0, le=0.5)  # share of characters an edit touches
        minority_only: bool = False  # only classes smaller than the largest, never beyond its size

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        p = self.params
        if not (ctx.classes and ctx.text_features):  # labelled texts only
            trace.details["note"] = f"skipped: text augmentation is for text classification, not {ctx.task or 'none'}"
            return table
        columns = self.target_columns(table, ctx, ("text",))
        if not columns:
            trace.details["note"] = "skipped: no text columns"
            return table
        table = with_lineage(table)
        real = real_positions(table)
        has_target = bool(ctx.target) and ctx.target in table.column_names
        labels = (np.array(table.column(ctx.target).cast(pa.string()).to_pylist(), dtype=object)[real]
                  if has_target else np.full(real.size, None, dtype=object))
        rng = np.random.default_rng(ctx.seed)
        seeds = _pick_seeds(labels, class_counts(table, ctx.target) if has_target else {}, p.factor,
                            p.minority_only, rng)
        if seeds.size == 0:
            trace.details["note"] = "skipped: no class is smaller than the largest" if p.minority_only else \
                "skipped: nothing to augment"
            return table
        values = {}
        for name in columns:
            texts = table.column(name).take(pa.array(real[seeds])).cast(pa.string()).to_pylist()
            values[name] = [augment_text(t, p.ops, p.rate, rng) if t else t for t in texts]
        blank = (ctx.id_column,) if ctx.id_column in table.column_names else ()
        out = append_derived(table, real[seeds], values, blank=blank)
        unchanged = sum(a == b for name in columns for a, b in zip(
            values[name], table.column(name).take(pa.array(real[seeds])).to_pylist(), strict=True))
        trace.details.update({
            "added": int(seeds.size), "unchanged_texts": int(unchanged),
            "added_per_class": {str(k): int(v) for k, v in zip(*np.unique(labels[seeds].astype(str),
                                                                        return_counts=True), strict=True)},
            "samples": [{"parent": int(table.column(ROW)[int(real[s])].as_py()), "text": values[columns[0]][i]}
                        for i, s in enumerate(seeds[:5])],
            "note": f"added {seeds.size:,} edited texts" + (" to minority classes" if p.minority_only else "")})
        return out


def _pick_seeds(labels: np.ndarray, counts: dict[str, int], factor: float, minority_only: bool,
                rng: np.random.Generator) -> np.ndarray:
    """Positions (among real rows) to derive from: each selected row `factor` times on average; with
    `minority_only`, rows of classes below the largest, capped at the gap to it."""
    if not minority_only:
        return _repeat(np.arange(labels.size), factor, rng)
    largest = max(counts.values(), default=0)
    parts = []
    for label, count in counts.items():
        rows = np.flatnonzero(labels == label)
        if count < largest and rows.size:
            parts.append(_repeat(rows, factor, rng)[:largest - count])
    return np.sort(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


def _repeat(rows: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    whole, part = int(factor), factor - int(factor)
    extra = rng.choice(rows, size=int(round(part * rows.size)), replace=False) if part else rows[:0]
    return rng.permutation(np.concatenate([np.tile(rows, whole), extra]))
