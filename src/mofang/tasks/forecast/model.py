"""Time-series forecasting in the model workshop: forecasters backtested per series, the best (or their blend)
picked; the workshop's `plan`, `train` and `select` for this task."""

from __future__ import annotations

from mofang.station.context import StationContext
from mofang.tasks.forecast.models.workshop import plan_forecast, select_forecast, train_forecast


def plan(ctx: StationContext) -> str:
    return plan_forecast(ctx, ctx.load("dataset"))


def train(ctx: StationContext) -> str:
    plan, dataset = ctx.load("plan"), ctx.load("dataset")
    return train_forecast(ctx, plan, dataset)


def select(ctx: StationContext) -> str:
    plan, candidates = ctx.load("plan"), ctx.load("candidates")
    return select_forecast(ctx, plan, candidates)
