"""The leakage guard's decision: the order's threshold, and no decision below its minimum of labelled rows (said
in the process reasons and the data card)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mofang.data import DataWorkshop
from mofang.data.leakage import DEFAULT_GUARD, LEAK_SCORE, guard_record, is_leak, undecided
from mofang.orders import parse_order
from mofang.orders.schema import LeakageGuard

ORDER = """
id: churn
tenant: acme
task: tabular-classification
data:
  path: {path}
target: churned
acceptance: none
seed: 3
"""


def table(rows: int, flips: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """A noise feature, a real one and `after_call`: the target itself with a share of `flips` flipped."""
    rng = np.random.default_rng(seed)
    churned = rng.random(rows) < 0.4
    return pd.DataFrame({"tenure": rng.integers(1, 60, rows) + churned * 3, "noise": rng.normal(0, 1, rows),
                         "after_call": np.where(churned ^ (rng.random(rows) < flips), "已挽留", "未联系"),
                         "churned": np.where(churned, "是", "否")})


def run(tmp_path: Path, make_ctx, frame: pd.DataFrame, leakage: str = ""):
    path = tmp_path / "churn.csv"
    frame.to_csv(path, index=False)
    ctx = make_ctx(parse_order(ORDER.format(path=path) + leakage), station="data")
    station = DataWorkshop()
    for process in station.processes:
        getattr(station, process)(ctx)
    dropped = {d["name"]: d["reason"] for d in ctx.load("features")["dropped"]}
    return ctx, dropped


def test_the_default_guard_is_the_schemas() -> None:
    assert DEFAULT_GUARD == LeakageGuard() and LEAK_SCORE == 0.95 and DEFAULT_GUARD.min_rows == 200


def test_below_min_rows_the_guard_does_not_decide() -> None:
    guard = LeakageGuard(min_rows=200)
    assert undecided(200, guard) is None
    why = undecided(150, guard)
    assert why == ("150 labelled rows, fewer than leakage.min_rows 200: the scores are recorded, no column is "
                   "dropped for leakage")
    assert not is_leak(1.0, 150, guard) and is_leak(1.0, 200, guard)


def test_the_threshold_is_inclusive_and_the_orders() -> None:
    guard = LeakageGuard(threshold=0.8, min_rows=10)
    assert is_leak(0.8, 10, guard) and not is_leak(0.799, 10, guard)
    assert not is_leak(0.9, 10, LeakageGuard(threshold=0.95, min_rows=10))


def test_the_record_says_what_was_decided_and_what_would_have_been() -> None:
    scores = {"a": {"score": 0.99, "measure": "ROC-AUC"}, "b": {"score": 0.6, "measure": "ROC-AUC"}}
    decided = guard_record(500, scores, LeakageGuard())
    assert decided == {"threshold": 0.95, "min_rows": 200, "rows": 500, "decided": True, "undecided_columns": [],
                       "reason": "decided on 500 labelled rows: a column scoring ≥ 0.95 on its own is dropped (a)"}
    waiting = guard_record(50, scores, LeakageGuard())
    assert not waiting["decided"] and waiting["undecided_columns"] == ["a"]
    assert waiting["reason"].endswith("no column is dropped for leakage; it would have dropped a")


def test_a_small_table_keeps_its_leak_and_the_card_says_why(tmp_path: Path, make_ctx) -> None:
    ctx, dropped = run(tmp_path, make_ctx, table(120))
    assert "after_call" not in dropped  # 120 rows: the guard does not decide
    assert ctx.load("guard_trace")["scores"]["after_call"]["score"] == pytest.approx(1.0)
    card = ctx.load("data_card")["leakage_guard"]
    assert (card["rows"], card["decided"], card["undecided_columns"]) == (120, False, ["after_call"])
    assert "120 labelled rows, fewer than leakage.min_rows 200" in card["reason"]
    assert any(r.startswith("leakage guard did not decide: 120 labelled rows") for r in ctx.record.reasons)


def test_the_orders_min_rows_lets_it_decide(tmp_path: Path, make_ctx) -> None:
    ctx, dropped = run(tmp_path, make_ctx, table(120), "leakage:\n  min_rows: 100\n")
    assert dropped["after_call"].startswith("target leakage: predicts 'churned' on its own")
    assert "≥ 0.95)" in dropped["after_call"]
    assert ctx.load("data_card")["leakage_guard"]["decided"] is True
    assert not any(r.startswith("leakage guard did not decide") for r in ctx.record.reasons)


def test_the_orders_threshold_decides_which_score_is_a_leak(tmp_path: Path, make_ctx) -> None:
    frame = table(400, flips=0.04)  # a strong column, not a perfect one: purity well under 0.95
    _, default = run(tmp_path, make_ctx, frame)
    assert "after_call" not in default
    ctx, strict = run(tmp_path, make_ctx, frame, "leakage:\n  threshold: 0.75\n")
    score = ctx.load("guard_trace")["scores"]["after_call"]["score"]
    assert 0.75 <= score < 0.95
    assert "≥ 0.75)" in strict["after_call"] and "noise" not in strict and "tenure" not in strict
