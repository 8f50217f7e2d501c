"""Anomaly detection in the evaluation center: detectors scored on the test readings (events and points), the
gate, and the report with the flagged events; the center's `score`, `gate` and `report` for this task."""

from __future__ import annotations

from mofang.evaluation.station import job_reasons
from mofang.station.context import StationContext
from mofang.tasks.anomaly.scoring import gate_anomaly, report_anomaly, score_anomaly


def score(ctx: StationContext) -> str:
    dataset, test, candidates = ctx.load("dataset"), ctx.load("test"), ctx.load("candidates")
    return score_anomaly(ctx, dataset, test, candidates, ctx.load("winner")["primary_metric"])


def gate(ctx: StationContext) -> str:
    winner, leaderboard, test = ctx.load("winner"), ctx.load("leaderboard"), ctx.load("test")
    return gate_anomaly(ctx, winner, leaderboard, test)


def report(ctx: StationContext) -> str:
    dataset, test, winner = ctx.load("dataset"), ctx.load("test"), ctx.load("winner")
    leaderboard, gate = ctx.load("leaderboard"), ctx.load("gate")
    metrics = next(r for r in leaderboard if r["name"] == winner["name"])["test_metrics"]
    verdict = "accepted" if gate["passed"] else "rejected"
    return report_anomaly(ctx, dataset, test, winner, leaderboard, gate, metrics, verdict, job_reasons(ctx, winner))
