"""The winner measured for its gate: size, one-row latency on test rows, robustness where the task measures it."""

from __future__ import annotations

from typing import Any

from mofang.core.tasks import spec as task_spec
from mofang.evaluation.gates import check_gate
from mofang.evaluation.scoring import REPORT_ONLY_ROWS, ROBUSTNESS_ROWS
from mofang.models.candidate import Candidate
from mofang.station.context import StationContext

LATENCY_ROWS = 200


def measure_winner(ctx: StationContext,
                   winner: dict[str, Any]) -> tuple[float, dict[str, float], dict[str, Any] | None]:
    """The winner's size, one-row latency on test rows and (where the task has a robustness measure: text models'
    reports always show it) its robustness, on a larger sample when the gate needs it."""
    test, dataset = ctx.load("test"), ctx.load("dataset")
    candidate = Candidate.load(winner["model_path"])
    size_mb = Candidate.size_mb(winner["model_path"])
    rows = test.drop(columns=[dataset["target"]], errors="ignore").head(LATENCY_ROWS)
    latency = candidate.measure_latency(rows, n=LATENCY_ROWS)
    measure = task_spec(ctx.order.task).hook("evaluation.robustness")
    robustness = (measure(ctx, candidate, test, dataset, winner, robustness_rows(ctx.order))
                  if measure is not None else None)
    return size_mb, latency, robustness


def gate_result(ctx: StationContext, winner: dict[str, Any],
                leaderboard: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The gate's verdict on `winner` (measured as the gate process does), not recorded; with its robustness."""
    size_mb, latency, robustness = measure_winner(ctx, winner)
    row = next(r for r in leaderboard if r["name"] == winner["name"])
    gated = robustness if ctx.order.acceptance.max_robustness_drop is not None else None
    result = check_gate(ctx.order, row["test_metrics"], size_mb, latency["p95_ms"], gated, row.get("unmeasured"))
    result.update(size_mb=round(size_mb, 4), p50_ms=round(latency["p50_ms"], 3),
                  p95_ms=round(latency["p95_ms"], 3), winner=winner["name"])
    return result, robustness


def robustness_rows(order: Any) -> int:
    """Rows a robustness measure perturbs: a larger sample when the order gates on the drop."""
    return ROBUSTNESS_ROWS if order.acceptance.max_robustness_drop is not None else REPORT_ONLY_ROWS


