"""Instruction tuning in the model workshop: a base language model tuned on the conversations, a grid of trials;
the workshop's `plan`, `train` and `select` for this task."""

from __future__ import annotations

from mofang.station.context import StationContext
from mofang.tasks.llm.models.workshop import plan_llm, select_llm, train_llm


def plan(ctx: StationContext) -> str:
    return plan_llm(ctx, ctx.load("dataset"))


def train(ctx: StationContext) -> str:
    plan, dataset = ctx.load("plan"), ctx.load("dataset")
    return train_llm(ctx, plan, dataset)


def select(ctx: StationContext) -> str:
    plan, candidates = ctx.load("plan"), ctx.load("candidates")
    return select_llm(ctx, plan, candidates)
