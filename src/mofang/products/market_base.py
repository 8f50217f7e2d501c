"""A marketplace listing as an order's base: `base_model: market:NAME@V` on a tabular or text order.

What "as a base" means (the same for every family): the published model, as it is, joins the model
workshop's candidates. It is scored on the order's own validation rows like the families trained on the
tenant's data, and the usual selection (best valid metric within the size and latency limits) decides:
the tenant gets the published model when its own data cannot beat it, and its own model when it can. The
listing must read the order's features (its input features are a subset of the order's) and, for a
classifier, answer in the order's classes; otherwise it is skipped with the reason. Warm-starting or
fine-tuning a family from a listing is not done (a published bundle holds a fitted pipeline, not a checkpoint
a trainer could continue).
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from mofang.core.errors import MofangError
from mofang.evaluation.scoring import score_candidate
from mofang.integration.bundle import answers_rows
from mofang.models import Candidate
from mofang.products.market import PREFIX, is_market_ref, open_listing

FAMILY = "market"


def market_candidates(ctx: Any, dataset: dict[str, Any], valid: pd.DataFrame) -> list[dict[str, Any]]:
    """The order's market base as a candidate record (saved into the job's models folder), or nothing when the
    order names none; a listing that cannot serve the order is skipped with the reason."""
    ref = getattr(ctx.order, "base_model", None)
    if not ref or not is_market_ref(ref) or not answers_rows(dataset["task"]):  # a base answers rows: a candidate
        return []

    try:
        bundle, listing = open_listing(ctx.meta, ref, ctx.tenant)
    except MofangError as exc:
        ctx.reason(f"{ref}: not used as a base — {exc}")
        return []
    why = _mismatch(bundle, dataset, valid)
    if why:
        ctx.reason(f"{ref}: not used as a base — {why}")
        return []
    candidate = bundle.candidate
    candidate.name = f"{PREFIX}{listing.name}@{listing.version}"
    started = time.monotonic()
    metrics = score_candidate(candidate, valid, dataset["target"])
    path = candidate.save(ctx.path("models") / f"{FAMILY}.joblib")
    rows = valid.drop(columns=[dataset["target"]]).head(50)
    latency = candidate.measure_latency(rows, n=50, max_seconds=2.0)
    note = (f"{candidate.name} (published by {listing.tenant_id}, {listing.family}) scored as it is on this "
            "order's valid rows, competing with the families trained on its data")
    ctx.reason(note)
    return [{"name": candidate.name, "family": FAMILY, "params": {"listing": candidate.name,
                                                                   "publisher": listing.tenant_id},
             "valid_metrics": metrics, "fit_seconds": round(time.monotonic() - started, 3), "budget_s": 0.0,
             "trials": 0, "model_path": str(path), "size_mb": round(Candidate.size_mb(path), 4),
             "p50_ms": round(latency["p50_ms"], 3), "p95_ms": round(latency["p95_ms"], 3), "note": note,
             "single_fit_s": None}]


def _mismatch(bundle: Any, dataset: dict[str, Any], valid: pd.DataFrame) -> str | None:
    if bundle.schema["task"] != dataset["task"]:
        return f"it is a {bundle.schema['task']} model, the order asks for {dataset['task']}"
    missing = [name for name in bundle.feature_names if name not in valid.columns]
    if missing:
        return f"it reads features the order's data lacks: {', '.join(missing[:5])}"
    if bundle.is_classifier:
        theirs, ours = {str(c) for c in bundle.candidate.classes_}, {str(c) for c in dataset.get("classes") or []}
        if theirs != ours:
            return f"it answers in classes {sorted(theirs)}, the order's are {sorted(ours)}"
    return None
