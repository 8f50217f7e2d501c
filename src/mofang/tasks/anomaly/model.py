"""Anomaly detection in the model workshop: detectors fitted on the readings, thresholds for a false-alarm rate;
the workshop's `plan`, `train` and `select` for this task."""

from __future__ import annotations

from mofang.station.context import StationContext
from mofang.tasks.anomaly.models.workshop import plan_anomaly, select_anomaly, train_anomaly


def plan(ctx: StationContext) -> str:
    return plan_anomaly(ctx, ctx.load("dataset"))


def train(ctx: StationContext) -> str:
    plan, dataset = ctx.load("plan"), ctx.load("dataset")
    return train_anomaly(ctx, plan, dataset)


def select(ctx: StationContext) -> str:
    plan, candidates = ctx.load("plan"), ctx.load("candidates")
    return select_anomaly(ctx, plan, candidates)
