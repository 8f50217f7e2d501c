"""Label operators: canonical class names, weak labels from keyword rules, and their place on the line."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from mofang.data.label.ops import WEAK, MapLabels, RuleLabels
from mofang.data.ops import ROW, OpContext, RecipeError
from mofang.data.recipes import RecipeOverride, build_recipe
from tests.data.helpers import order_for

CTX = OpContext(target="y", kinds={"text": "text"}, task="text-classification")


def test_map_renames_classes_and_can_refuse_unknown_ones() -> None:
    table = pa.table({ROW: [1, 2, 3, 4], "y": ["1", "0", "1", "2"]})
    out, trace = MapLabels({"mapping": {"1": "违约", "0": "正常"}})(table, CTX)
    assert out.column("y").to_pylist() == ["违约", "正常", "违约", "2"] and trace.changed == {"y": 3}
    assert trace.details["unmapped"] == ["2"]
    with pytest.raises(RecipeError, match=r"without a mapping: \['2'\]"):
        MapLabels({"mapping": {"1": "a", "0": "b"}, "unmapped": "error"})(table, CTX)


def test_rules_fill_only_missing_labels_and_leave_conflicts_unlabeled() -> None:
    table = pa.table({ROW: [1, 2, 3, 4, 5], "text": ["送餐太慢了", "味道很好吃", "太慢了但是好吃", "一般般", "很慢"],
                      "y": [None, None, None, None, "好评"]})
    rules = [{"label": "差评", "keywords": ["慢"]}, {"label": "好评", "pattern": "好吃|不错"}]
    out, trace = RuleLabels({"rules": rules})(table, CTX)
    assert out.column("y").to_pylist() == ["差评", "好评", None, None, "好评"]
    assert out.column(WEAK).to_pylist() == [True, True, False, False, False]
    assert trace.details["conflicts_left_unlabeled"] == 1 and trace.changed == {"y": 2}


def test_a_bad_rule_pattern_is_refused_when_the_recipe_is_built() -> None:
    with pytest.raises(RecipeError, match="not a valid regular expression"):
        RuleLabels({"rules": [{"label": "x", "pattern": "(unclosed"}]})


def test_label_steps_keep_unlabeled_rows_until_validate(tmp_path: Path, make_ctx) -> None:
    recipe = build_recipe("tabular-classification", RecipeOverride(add=[
        {"op": "label.rules", "params": {"columns": ["note"], "rules": [{"label": "bad", "keywords": ["逾期"]}]}}]))
    missing = next(s for s in recipe.steps if s.op == "clean.missing")
    assert missing.params == {"drop_target_missing": False}
    rows = 120
    frame = pd.DataFrame({"x": [round(i * 1.37 % 11, 3) for i in range(rows)],  # no exact duplicate rows
                          "note": ["多次逾期" if i % 3 == 0 else "按时还款" for i in range(rows)],
                          "y": [None if i % 10 == 0 else ("bad" if i % 3 == 0 else "good") for i in range(rows)]})
    path = tmp_path / "loans.csv"
    frame.to_csv(path, index=False)
    order = order_for(path, target="y")
    order.recipe = {"add": [{"op": "label.rules", "params": {"columns": ["note"],
                                                              "rules": [{"label": "bad", "keywords": ["逾期"]}]}}]}
    ctx = make_ctx(order)
    from tests.data.test_station import run_station

    run_station(ctx)
    label = ctx.load("trace_label")["steps"][0]
    assert label["op"] == "label.rules" and label["details"]["labeled"] == 4  # rows 0, 30, 60, 90
    validate = ctx.load("trace_validate")["steps"][0]
    assert validate["op"] == "validate.target" and validate["dropped"] == 8
    assert sum(ctx.load("dataset")["rows"].values()) == rows - 8
