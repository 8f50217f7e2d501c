"""quality.balance: report how the target's classes are balanced; the data is left unchanged."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import Field

from mofang.data.ops import OpContext, Operator, OpParams, OpTrace, register


def class_counts(table: pa.Table, target: str) -> dict[str, int]:
    """Rows per class of the target (missing labels left out), largest first."""
    counts = table.column(target).cast(pa.string()).drop_null().value_counts()
    pairs = [(str(v["values"]), int(v["counts"])) for v in counts.to_pylist()]
    return dict(sorted(pairs, key=lambda p: (-p[1], p[0])))


@register
class ClassBalance(Operator):
    name = "quality.balance"
    process = "quality"
    description = "Report the class balance of the target: counts, imbalance ratio and minority classes"

    class Params(OpParams):
        minority_below: float = Field(0.5, gt=0, le=1)  # a class smaller than this share of the largest is a minority

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        if not ctx.classes:  # the task's target has no classes to balance
            trace.details["note"] = f"skipped: class balance needs a classification task, not {ctx.task or 'none'}"
            return table
        if not ctx.target or ctx.target not in table.column_names:
            trace.details["note"] = "skipped: no target column"
            return table
        counts = class_counts(table, ctx.target)
        if not counts:
            trace.details["note"] = "skipped: the target has no labels"
            return table
        sizes = np.array(list(counts.values()), dtype=float)
        shares = sizes / sizes.sum()
        largest = sizes.max()
        minority = [c for c, n in counts.items() if n < self.params.minority_below * largest]
        entropy = float(-(shares * np.log(shares)).sum() / np.log(len(sizes))) if len(sizes) > 1 else 1.0
        ratio = float(largest / sizes.min())
        trace.details.update({
            "classes": len(counts), "counts": counts, "missing_labels": table.column(ctx.target).null_count,
            "imbalance_ratio": round(ratio, 3), "balance_entropy": round(entropy, 4), "minority_classes": minority,
        })
        named = ", ".join(minority[:5]) + (" …" if len(minority) > 5 else "")
        trace.details["note"] = f"{len(counts)} classes, largest/smallest {ratio:.1f}" + (
            f", minority: {named}" if minority else "")
        return table
