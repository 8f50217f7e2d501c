"""The operator contract: strict params, registry names, batch processing and traces."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mofang.data.ops import ROW, OpContext, Operator, OpParams, OpTrace, RecipeError, operator_class, operators
from mofang.data.ops.base import SAMPLE


class UpperParams(OpParams):
    min_length: int = 0


class Upper(Operator):
    """A row-local test operator: upper-cases strings and drops rows shorter than min_length."""

    name = "test.upper"
    process = "normalize"
    Params = UpperParams
    batched = True

    def transform_batch(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        column = table.column("text")
        upper = pc.utf8_upper(column)
        trace.change("text", pc.sum(pc.invert(pc.equal(column, upper))).as_py() or 0)
        short = pc.less(pc.utf8_length(column), self.params.min_length)
        positions = [i for i, v in enumerate(short.to_pylist()) if v]
        trace.drop(ctx.row_ids(table, positions), "too short")
        return table.set_column(1, "text", upper).filter(pc.invert(short))


def table_of(texts: list[str]) -> pa.Table:
    return pa.table({ROW: list(range(1, len(texts) + 1)), "text": texts})


def test_unknown_param_lists_the_expected_ones() -> None:
    with pytest.raises(RecipeError) as caught:
        Upper({"min_lenght": 3}, where="steps[0].params")
    message = str(caught.value)
    assert "did you mean 'min_length'" in message and "expected: columns, min_length" in message
    assert caught.value.field == "steps[0].params.min_lenght"


def test_bad_param_value_names_the_field() -> None:
    with pytest.raises(RecipeError, match="min_length"):
        Upper({"min_length": "many"})


def test_batches_give_the_same_result_and_one_trace() -> None:
    texts = ["ab", "abcd", "x", "hello", "明天"] * 7
    whole, whole_trace = Upper({"min_length": 2})(table_of(texts), OpContext())
    batched, batch_trace = Upper({"min_length": 2})(table_of(texts), OpContext(batch_rows=4))
    assert batched.equals(whole)
    assert batch_trace.rows_in == 35 and batch_trace.rows_out == whole.num_rows == 28
    assert batch_trace.dropped == whole_trace.dropped == 7
    assert batch_trace.changed == whole_trace.changed == {"text": 28}  # 明天 has no case
    assert [r["row"] for r in batch_trace.dropped_rows][:2] == [3, 8]


def test_dropped_rows_are_named_by_the_id_column_and_capped() -> None:
    n = SAMPLE + 30
    table = pa.table({ROW: list(range(1, n + 1)), "cid": [f"C{i}" for i in range(n)], "text": ["x"] * n})
    _, trace = Upper({"min_length": 5})(table, OpContext(id_column="cid"))
    assert trace.dropped == n and len(trace.dropped_rows) == SAMPLE
    assert trace.dropped_rows[0] == {"row": "C0", "reason": "too short"}


def test_registry_knows_the_clean_operators_and_suggests_names() -> None:
    assert {"clean.coerce", "clean.categories", "clean.outliers", "clean.missing"} <= set(operators())
    with pytest.raises(RecipeError, match="did you mean 'clean.outliers'"):
        operator_class("clean.outlier")


def test_contract_is_checked_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="process must be one of"):
        class Wrong(Operator):  # noqa: F841
            name = "test.wrong"
            process = "cleaning"


def test_named_columns_must_exist() -> None:
    with pytest.raises(RecipeError, match="did you mean 'text'"):
        Upper({"columns": ["txt"]}).target_columns(table_of(["a"]), OpContext(), ("text",))
