"""quality.text: measure length, repetition, garbage and language of text columns; flag or drop bad rows."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from mofang.data.ops import OpContext, Operator, OpParams, OpTrace, register
from mofang.data.ops.base import SAMPLE
from mofang.data.quality.text_metrics import (
    LANGUAGES,
    char_lengths,
    garbage_ratios,
    histogram,
    languages,
    repetition_ratios,
)

Language = Literal["zh", "en", "mixed", "other"]


@register
class TextQuality(Operator):
    name = "quality.text"
    process = "quality"
    description = ("Measure each text's length, repeated content, garbage characters and language; "
                   "flag or drop rows outside the limits")

    class Params(OpParams):
        min_chars: int | None = Field(None, ge=0)
        max_chars: int | None = Field(None, ge=1)
        max_repetition: float | None = Field(None, ge=0, le=1)  # share of repeated 3-grams or lines
        max_garbage: float | None = Field(None, ge=0, le=1)  # share of characters that are not text
        languages: list[Language] | None = None  # keep only these; None keeps every language
        action: Literal["flag", "drop"] = "flag"  # flag: report the rows in the trace, data unchanged

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        p = self.params
        columns = self.target_columns(table, ctx, kinds=("text",))
        if not columns:
            trace.details["note"] = "no text columns"
            return table
        failed = np.zeros(table.num_rows, dtype=bool)
        reasons: list[list[str]] = [[] for _ in range(table.num_rows)]
        trace.details["columns"] = {}
        for name in columns:
            values = table.column(name).combine_chunks()
            if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
                values = values.cast(pa.string())
            length, repetition = char_lengths(values), repetition_ratios(values)
            garbage, language = garbage_ratios(values), languages(values)
            limits = [(p.min_chars, length, -1, "chars", "min_chars"), (p.max_chars, length, 1, "chars", "max_chars"),
                      (p.max_repetition, repetition, 1, "repeated", "max_repetition"),
                      (p.max_garbage, garbage, 1, "garbage", "max_garbage")]
            counts: dict[str, int] = {}
            for limit, measure, sign, unit, param in limits:
                if limit is None:
                    continue
                mask = sign * measure > sign * limit  # NaN (a missing text) compares False: left to missing-value tools
                counts[param] = int(mask.sum())
                for i in np.flatnonzero(mask):
                    reasons[i].append(f"{name}: {measure[i]:.3g} {unit} ({param} {limit})")
                failed |= mask
            if p.languages is not None:
                mask = ~np.isin(language, [*p.languages, None])  # a missing text passes
                counts["languages"] = int(mask.sum())
                for i in np.flatnonzero(mask):
                    reasons[i].append(f"{name}: language {language[i]}")
                failed |= mask
            trace.details["columns"][name] = {
                "length": histogram(length, log=True), "repetition": histogram(repetition, upper=1.0),
                "garbage": histogram(garbage, upper=1.0),
                "languages": {lang: int((language == lang).sum()) for lang in LANGUAGES},
                "median_chars": float(np.nanmedian(length)) if np.isfinite(length).any() else None,
                "failed": counts}
        positions = np.flatnonzero(failed)
        trace.details["flagged"] = int(positions.size)
        trace.details["note"] = (f"{positions.size:,} of {table.num_rows:,} rows outside the limits"
                                 + (", dropped" if p.action == "drop" and positions.size else ""))
        if p.action == "flag" or positions.size == 0:
            trace.details["flagged_rows"] = [{"row": row, "reason": "; ".join(reasons[i])} for row, i in zip(
                ctx.row_ids(table, positions[:SAMPLE]), positions[:SAMPLE], strict=True)]
            return table
        trace.drop(ctx.row_ids(table, positions), ["; ".join(reasons[i]) for i in positions])
        return table.filter(pa.array(~failed))
