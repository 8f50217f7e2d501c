"""Instruction tuning in the evaluation center: the base and tuned models' generations scored on the test
conversations (overlap, grounding, refusals, an optional judge), the gate, and the report; the center's `score`,
`gate` and `report` for this task."""

from __future__ import annotations

from mofang.evaluation.station import job_reasons
from mofang.station.context import StationContext
from mofang.tasks.llm.generation import gate_generation, report_generation, score_generation


def score(ctx: StationContext) -> str:
    dataset, test, candidates = ctx.load("dataset"), ctx.load("test"), ctx.load("candidates")
    return score_generation(ctx, dataset, test, candidates, ctx.load("winner")["primary_metric"])


def gate(ctx: StationContext) -> str:
    winner, leaderboard = ctx.load("winner"), ctx.load("leaderboard")
    return gate_generation(ctx, winner, leaderboard)


def report(ctx: StationContext) -> str:
    dataset, winner = ctx.load("dataset"), ctx.load("winner")
    leaderboard, gate = ctx.load("leaderboard"), ctx.load("gate")
    verdict = "accepted" if gate["passed"] else "rejected"
    return report_generation(ctx, dataset, winner, leaderboard, gate, verdict, job_reasons(ctx, winner))
