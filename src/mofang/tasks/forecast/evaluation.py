"""Time-series forecasting in the evaluation center: forecasters scored on the held-out last steps of each
series, the gate, the refit on every step (always: a forecast starts after the latest data), and the report with
forecast plots; the center's `score`, `gate`, `refit` and `report` for this task."""

from __future__ import annotations

from mofang.evaluation.station import job_reasons
from mofang.station.context import StationContext
from mofang.tasks.forecast.scoring import gate_forecast, refit_forecast, report_forecast, score_forecast


def score(ctx: StationContext) -> str:
    dataset, candidates = ctx.load("dataset"), ctx.load("candidates")
    return score_forecast(ctx, dataset, candidates, ctx.load("winner")["primary_metric"])


def gate(ctx: StationContext) -> str:
    winner, leaderboard = ctx.load("winner"), ctx.load("leaderboard")
    return gate_forecast(ctx, winner, leaderboard)


def refit(ctx: StationContext) -> str:
    dataset, winner, gate = ctx.load("dataset"), ctx.load("winner"), ctx.load("gate")
    return refit_forecast(ctx, dataset, winner, gate)


def report(ctx: StationContext) -> str:
    dataset, winner = ctx.load("dataset"), ctx.load("winner")
    leaderboard, gate = ctx.load("leaderboard"), ctx.load("gate")
    verdict = "accepted" if gate["passed"] else "rejected"
    return report_forecast(ctx, dataset, winner, leaderboard, gate, verdict, job_reasons(ctx, winner))
