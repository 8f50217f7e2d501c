"""The winner measured for its gate: size, one-row latency on test rows, robustness where the task measures it."""

from __future__ import annotations

from typing import Any

from mofang.core.tasks import spec as task_spec
from mofang.evaluation.gates import check_gate
from mofang.evaluation.scoring import REPORT_ONLY_ROWS, ROBUSTNESS_ROWS
from mofang.models.candidate import Candidate
from mofang.station.context import StationContext

LATENCY_ROWS = 200


def measure_winner(ctx: StationContext, winner: dict[str, Any], *, latency: bool = True,
                   robustness: bool = True) -> tuple[float, dict[str, float] | None, dict[str, Any] | None]:
    """The winner's size, one-row latency on test rows and (where the task has a robustness measure: text models'
    reports always show it) its robustness, on a larger sample when the gate needs it. `latency` or `robustness`
    False leaves that measure out (None)."""
    test, dataset = ctx.load("test"), ctx.load("dataset")
    candidate = Candidate.load(winner["model_path"])
    size_mb = Candidate.size_mb(winner["model_path"])
    timed = None
    if latency:
        rows = test.drop(columns=[dataset["target"]], errors="ignore").head(LATENCY_ROWS)
        timed = candidate.measure_latency(rows, n=LATENCY_ROWS)
    measure = task_spec(ctx.order.task).hook("evaluation.robustness") if robustness else None
    measured = (measure(ctx, candidate, test, dataset, winner, robustness_rows(ctx.order))
                if measure is not None else None)
    return size_mb, timed, measured


def gate_result(ctx: StationContext, winner: dict[str, Any],
                leaderboard: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The gate's verdict on a rework round's `winner`, not recorded; with its robustness. Only what the order
    gates on is measured again (a rework round must not spend the budget on a report-only measure): latency on
    test rows when it gates on p95, robustness when it gates on the drop; otherwise the latency measured when the
    candidate was trained stands, and the report's robustness is measured once the round passes (`robustness_for`)."""
    acceptance = ctx.order.acceptance
    row = next(r for r in leaderboard if r["name"] == winner["name"])
    size_mb, timed, robustness = measure_winner(ctx, winner, latency=acceptance.p95_latency_ms is not None,
                                                robustness=acceptance.max_robustness_drop is not None)
    latency = timed or {"p50_ms": float(row.get("p50_ms") or 0.0), "p95_ms": float(row.get("p95_ms") or 0.0)}
    result = check_gate(ctx.order, row["test_metrics"], size_mb, latency["p95_ms"], robustness, row.get("unmeasured"))
    result.update(size_mb=round(size_mb, 4), p50_ms=round(latency["p50_ms"], 3),
                  p95_ms=round(latency["p95_ms"], 3), winner=winner["name"])
    return result, robustness


def robustness_for(ctx: StationContext, winner: dict[str, Any]) -> dict[str, Any] | None:
    """The report's robustness measure of `winner` (None where the task has none)."""
    return measure_winner(ctx, winner, latency=False)[2]


def robustness_rows(order: Any) -> int:
    """Rows a robustness measure perturbs: a larger sample when the order gates on the drop."""
    return ROBUSTNESS_ROWS if order.acceptance.max_robustness_drop is not None else REPORT_ONLY_ROWS


