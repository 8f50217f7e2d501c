"""Clean operators on small real-shaped tables: coerce, canonical categories, outliers, missing values."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from mofang.data.clean.frames import to_frame
from mofang.data.clean.ops import CanonicalCategories, CoerceValues, MissingValues, NumericOutliers
from mofang.data.ops import ROW, OpContext


def ctx(**kinds: str) -> OpContext:
    return OpContext(kinds=kinds, target="y", task="tabular-classification")


def test_coerce_parses_units_magnitudes_and_dates_and_reports_losses() -> None:
    table = pa.table({ROW: [1, 2, 3, 4], "收入": ["1.2万", "８,５００元", "n/a", "abc"],
                      "日期": ["2023-01-05", "2023/2/7", "2023年3月9日", None], "y": ["1.0", "0", "1", "0.0"]})
    out, trace = CoerceValues()(table, ctx(收入="numeric", 日期="datetime"))
    frame = to_frame(out)
    assert frame["收入"].tolist()[:2] == [12000.0, 8500.0] and np.isnan(frame["收入"][3])
    assert str(frame["日期"][2].date()) == "2023-03-09"
    assert frame["y"].tolist() == ["1", "0", "1", "0"]
    assert trace.details["unparsable"]["收入"] == {"count": 1, "kind": "numeric", "examples": ["abc"]}
    assert trace.changed == {"收入": 1}


def test_categories_fold_case_spacing_and_rare_misspellings() -> None:
    values = ["Beijing"] * 40 + ["beijing"] * 3 + ["Bei jing"] * 2 + ["Shanghai"] * 30 + ["Shanghia"] * 2
    table = pa.table({ROW: list(range(len(values))), "city": values, "y": ["a"] * len(values)})
    out, trace = CanonicalCategories()(table, ctx(city="categorical"))
    assert set(out.column("city").to_pylist()) == {"Beijing", "Shanghai"}
    assert trace.changed == {"city": 7}
    assert trace.details["merged"]["city"]["Shanghia"] == "Shanghai"


def test_categories_leave_distinct_short_codes_alone() -> None:
    values = ["A1"] * 20 + ["A2"] * 2 + ["B1"] * 10
    table = pa.table({ROW: list(range(len(values))), "grade": values, "y": ["a"] * len(values)})
    out, trace = CanonicalCategories()(table, ctx(grade="categorical"))
    assert out.column("grade").to_pylist() == values and not trace.changed


@pytest.mark.parametrize("action, rows, top", [("flag", 41, 1e6), ("clip", 41, None), ("drop", 40, 5.0)])
def test_outliers_flag_clip_or_drop(action: str, rows: int, top: float | None) -> None:
    values = [float(i % 5) for i in range(40)] + [1e6]
    table = pa.table({ROW: list(range(1, 42)), "amount": values, "y": ["a"] * 41})
    out, trace = NumericOutliers({"action": action})(table, ctx(amount="numeric"))
    assert out.num_rows == rows and trace.details["outliers"]["amount"]["rows"] == [41]
    if top is not None:
        assert max(out.column("amount").to_pylist()) == pytest.approx(top) or action == "drop"
    else:
        assert max(out.column("amount").to_pylist()) == pytest.approx(trace.details["outliers"]["amount"]["high"])


def test_missing_policy_drops_rows_without_target_and_mostly_empty_rows() -> None:
    table = pa.table({ROW: [1, 2, 3, 4], "a": [1.0, None, None, 4.0], "b": ["x", None, "y", None],
                      "y": ["1", "0", None, "1"]})
    out, trace = MissingValues({"max_row_missing": 0.6, "fill": "mode"})(table, ctx(a="numeric", b="categorical"))
    assert out.column(ROW).to_pylist() == [1, 4]
    assert trace.dropped == 2 and {r["reason"][:6] for r in trace.dropped_rows} == {"target", "more t"}
    assert out.column("b").to_pylist() == ["x", "x"]
