"""Text classification in the evaluation center: the learning curve of an order with few labels, and the
robustness measure the shared gate runs on a text model (hook `evaluation.robustness`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.evaluation import learning
from mofang.evaluation.scoring import text_robustness
from mofang.evaluation.station import REFIT_RESERVE_S
from mofang.station.context import StationContext


def learning_curve(ctx: StationContext) -> str:
    """Text orders with few labels: how macro-F1 grows with labels (replayed labeling rounds, uncertainty
    vs random), for the report — when the budget left allows it."""

    dataset = ctx.load("dataset")
    if dataset.get("multi_label"):
        return "not a single-label text order"
    train, valid, test = (ctx.load(name) for name in ("train", "valid", "test"))
    labelled, unlabelled = len(train) + len(valid) + len(test), _unlabelled_rows(ctx)
    if not learning.wanted(labelled, unlabelled, False):
        return f"{labelled:,} labels and none missing: no learning curve needed"
    pool = pd.concat([train, valid], ignore_index=True)
    text = [f["name"] for f in dataset["features"] if f["kind"] == "text"]
    target = dataset["target"]
    need = learning.estimate_seconds(pool, test, text, target, ctx.order.seed)
    left = ctx.remaining_s() - REFIT_RESERVE_S
    if need > max(left, learning.CHEAP_S):
        ctx.reason(f"learning curve skipped: about {need:.0f}s needed, {max(0.0, left):.0f}s left")
        return f"skipped: {need:.0f}s needed, {max(0.0, left):.0f}s left"
    curve = learning.learning_curve(pool, test, text, target, ctx.order.seed, unlabelled)
    curve["advice"] = learning.advice(curve, None)
    ctx.save("learning_curve", curve)
    ctx.metric(**{f"curve_{s}_f1_macro": round(v, 4) for s, v in curve["final"].items()})
    ctx.reason("learning curve: " + curve["advice"])
    return (f"{len(curve['rows'])} rounds replayed on {curve['pool']:,} labels: macro-F1 "
            + ", ".join(f"{s} {v:.3f}" for s, v in curve["final"].items()))


def robustness(ctx: StationContext, candidate: Any, test: pd.DataFrame, dataset: dict[str, Any],
               winner: dict[str, Any], rows: int) -> dict[str, Any] | None:
    """The text model's robustness to perturbed text (typos, homophones, ...) on `rows` test rows, scored by
    the winner's metric when it needs labels only; always measured (the report shows it)."""

    return text_robustness(candidate, test, dataset["target"], dataset["features"], winner["primary_metric"],
                           seed=ctx.order.seed, rows=rows)


def _unlabelled_rows(ctx: StationContext) -> int:
    """Rows of the order's data whose target was empty when read (the data workshop left them out)."""
    target = ctx.order.target
    if not target or not ctx.has("raw"):
        return 0
    raw = ctx.load("raw")
    if target not in raw.columns:
        return 0
    values = raw[target]
    return int((values.isna() | (values.astype(str).str.strip() == "")).sum())


def reserve(order: Any, dataset: dict[str, Any], budget: float) -> float:
    """Seconds the model workshop keeps for the learning curve, drawn after the gate when labels are few."""
    labelled = sum((dataset.get("rows") or {}).values())
    return max(3.0, 0.05 * budget) if learning.wanted(labelled, 0, bool(dataset.get("multi_label"))) else 0.0
