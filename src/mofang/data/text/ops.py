"""Normalization operators: `normalize.text`, `normalize.html`, `normalize.t2s`."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from mofang.data.ops import OpContext, Operator, OpParams, OpTrace, RecipeError, register
from mofang.data.text.html import strip_html
from mofang.data.text.normalize import TextNormalization, normalize_text
from mofang.data.text.t2s import traditional_to_simplified

EXAMPLES = 3  # before/after pairs kept per column in a trace


class _TextOperator(Operator):
    """Applies one string-array function to each text column; counts and samples the changed cells."""

    batched = True

    def convert(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        raise NotImplementedError

    def transform_batch(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        for column in self.target_columns(table, ctx, kinds=("text", "categorical")):
            values = table.column(column)
            if not _is_text(values.type):
                if self.params.columns is not None:
                    raise RecipeError(f"operator {self.name!r}: column '{column}' holds {values.type}, not text",
                                      field="columns")
                continue
            before = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
            after = self.convert(before)
            if after.type != before.type:
                after = after.cast(before.type)
            differs = pc.fill_null(pc.not_equal(before, after), False)
            count = int(pc.sum(differs).as_py() or 0)
            if count:
                trace.change(column, count)
                _sample(trace, column, before, after, differs)
                table = table.set_column(table.column_names.index(column), column, after)
        return table


def _is_text(data_type: pa.DataType) -> bool:
    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type)


def _sample(trace: OpTrace, column: str, before: pa.Array, after: pa.Array, differs: pa.Array) -> None:
    examples = trace.details.setdefault("examples", {}).setdefault(column, [])
    room = EXAMPLES - len(examples)
    if room > 0:
        old, new = before.filter(differs).slice(0, room), after.filter(differs).slice(0, room)
        examples.extend({"before": o[:200], "after": n[:200]} for o, n in zip(old.to_pylist(), new.to_pylist(),
                                                                               strict=True))


@register
class NormalizeText(_TextOperator):
    name = "normalize.text"
    process = "normalize"
    description = ("Normalize text: drop control characters, full-width to half-width, collapse whitespace; "
                   "optionally Chinese punctuation to ASCII, lowercase, strip HTML, traditional to simplified")

    class Params(OpParams):
        control_chars: bool = True
        whitespace: bool = True
        fullwidth: bool = True
        punctuation: bool = False  # 。，！？：；（）、 to ASCII too
        lowercase: bool = False
        html: bool = False
        t2s: bool = False

    def convert(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        steps = self.params.model_dump(exclude={"columns"})
        return normalize_text(values, TextNormalization(**steps))


@register
class StripHtml(_TextOperator):
    name = "normalize.html"
    process = "normalize"
    description = "Strip HTML tags, comments and script/style content, and decode entities"

    def convert(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        return strip_html(values)


@register
class TraditionalToSimplified(_TextOperator):
    name = "normalize.t2s"
    process = "normalize"
    description = "Convert traditional Chinese to simplified (OpenCC t2s, phrase-aware)"

    def convert(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        return traditional_to_simplified(values)

