"""The model workshop's anomaly-detection processes: plan the detector families, fit and calibrate them, select."""

from __future__ import annotations

import json
import time
from typing import Any

from mofang.core.errors import MofangError
from mofang.core.tasks import spec as task_spec
from mofang.models.limits import within_limits
from mofang.tasks.anomaly.models.fitting import FAMILIES, choose, fit_detectors
from mofang.tasks.anomaly.models.model import AnomalyModel

DEFAULT_METRIC = ("event_f1", "higher")
LATENCY_CALLS = 50


def plan_anomaly(ctx: Any, dataset: dict[str, Any]) -> str:
    """Record the families, the selection metric and the time left for training."""

    order, info = ctx.order, dataset["anomaly"]
    if order.acceptance.metrics:
        metric = next(iter(order.acceptance.metrics))
        direction = task_spec("anomaly-detection").metrics[metric]
    else:
        metric, direction = DEFAULT_METRIC
    reserve = max(6.0, 0.10 * ctx.budget_s)
    train_s = max(0.0, ctx.remaining_s() - reserve)
    labelled = bool(info.get("label"))
    reasons = [f"select by valid {metric} ({direction} is better): "
               + ("the order's first acceptance metric" if order.acceptance.metrics else "the default for "
                  "anomaly-detection") if labelled else
               "no label column: detectors cannot be compared on events; isolation forest is chosen",
               f"{len(info['sensors'])} sensors read as window features over {info['window']} readings (value, "
               "deviation from the window mean, window spread, step); scores averaged over the window",
               f"thresholds calibrated so that {info['false_alarm_rate']:.2%} of normal valid readings are flagged "
               "(the order's anomaly.false_alarm_rate)",
               f"families {', '.join(FAMILIES)} (the supervised one also or-ed with the best unsupervised one, "
               f"so faults no label shows are still flagged) within {train_s:.0f}s ({reserve:.0f}s kept for "
               "evaluation and delivery)"]
    for text in reasons:
        ctx.reason(text)
    plan = {"task": "anomaly-detection", "families": list(FAMILIES), "primary_metric": metric,
            "direction": direction, "budget_s": round(ctx.budget_s, 2), "train_s": round(train_s, 2),
            "train_until_elapsed_s": round(ctx.elapsed_s() + train_s, 2), "reserve_s": round(reserve, 2),
            "labelled": labelled, "reasons": reasons}
    ctx.param(families=plan["families"], primary_metric=metric, train_s=plan["train_s"])
    ctx.save("plan", plan)
    return f"{len(FAMILIES)} detector families on {metric}: {train_s:.0f}s to fit and calibrate"


def train_anomaly(ctx: Any, plan: dict[str, Any], dataset: dict[str, Any]) -> str:
    """Fit and calibrate every family; save each model and its record (as the tabular families do)."""
    train, valid = ctx.load("train"), ctx.load("valid")
    folder = ctx.path("models")
    folder.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + max(0.0, plan["train_until_elapsed_s"] - ctx.elapsed_s())
    families = plan["families"]
    fitted, skipped = fit_detectors(
        train, valid, dataset["anomaly"], seed=ctx.order.seed, families=families, deadline=deadline,
        on_family=lambda i, name: ctx.advance(i, len(families), f"fitting {name}"))
    if not fitted:
        raise MofangError("no anomaly detector could be fitted; " + "; ".join(skipped.values()))
    records = []
    for item in fitted:
        model = item.model
        path = model.save(folder / f"{model.family}.joblib")
        latency = model.measure_latency(valid, n=LATENCY_CALLS)
        ctx.reason(item.note)
        records.append({"name": model.name, "family": model.family, "params": model.params,
                        "valid_metrics": item.valid_metrics, "fit_seconds": round(item.fit_seconds, 3),
                        "budget_s": plan["train_s"], "trials": 1, "model_path": str(path),
                        "size_mb": round(AnomalyModel.size_mb(path), 4), "p50_ms": round(latency["p50_ms"], 3),
                        "p95_ms": round(latency["p95_ms"], 3), "threshold": model.threshold_, "note": item.note})
    for reason in skipped.values():
        ctx.reason(reason)
    ctx.save("candidates", json.loads(json.dumps(records, default=float)))
    metric = plan["primary_metric"]
    ctx.metric(**{f"{r['name']}_{metric}": r["valid_metrics"].get(metric) for r in records})
    return "; ".join(f"{r['name']} {metric} {_fmt(r['valid_metrics'].get(metric))}" for r in records)


def select_anomaly(ctx: Any, plan: dict[str, Any], candidates: list[dict[str, Any]]) -> str:
    """The winner: best valid metric among candidates within the order's size and latency limits."""
    limits = within_limits(candidates, ctx.order.acceptance)
    pool = limits.pool
    position, why_best = choose([(r["family"], r["valid_metrics"]) for r in pool], plan["primary_metric"],
                                plan["direction"], plan["labelled"])
    best = pool[position]
    metric = plan["primary_metric"]
    reason = (f"picked {best['name']}: {why_best}, threshold {best['threshold']:.4g}, {best['size_mb']:.3g} MB, "
              f"p95 {best['p95_ms']:.1f} ms per window") + limits.note
    ctx.reason(reason)
    score = best["valid_metrics"].get(metric)
    winner = {"name": best["name"], "family": best["family"], "model_path": best["model_path"],
              "primary_metric": metric, "direction": plan["direction"], "valid_score": score, "reason": reason}
    ctx.metric(winner=best["name"], valid_score=score)
    ctx.save("winner", winner)
    return reason


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
