"""The evaluation center station: score every candidate on test, gate the winner, write the report."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from mofang.core.metrics.predictive import per_class_report
from mofang.core.plots import bilingual
from mofang.core.resources import Needs
from mofang.core.tasks import spec as task_spec
from mofang.evaluation.gates import check_gate, record_gate
from mofang.evaluation.measure import measure_winner
from mofang.evaluation.plots import classification_plots, multilabel_plots, regression_plots
from mofang.evaluation.report import write_report
from mofang.evaluation.rework import ROUNDS, rework_round
from mofang.evaluation.robustness import RobustnessReport, robustness_plot
from mofang.evaluation.scoring import predictions, score_candidate, text_slices
from mofang.models.candidate import Candidate
from mofang.models.labels import indicator
from mofang.models.refit import REFIT_MARGIN, estimate_seconds, refit_on_rows, refittable
from mofang.station.context import StationContext
from mofang.station.contract import Station
from mofang.store.models import ProcessRun, StationRun

REFIT_RESERVE_S = 4.0  # kept after a refit for the report, packaging and delivery
REFIT_CHEAP_S = 5.0  # a refit estimated under this is done even past the budget (less than the budget's noise)


class EvaluationCenter(Station):
    name = "evaluation"
    inputs = ("dataset", "test", "candidates", "winner")
    outputs = ("evaluation",)
    processes = ("score", "gate", *ROUNDS, "refit", "learning_curve", "report")
    resources = Needs(cpus=1, memory_gb=1)  # the winner scored on test; a refit on every row

    def score(self, ctx: StationContext) -> str:
        dataset, test, candidates = ctx.load("dataset"), ctx.load("test"), ctx.load("candidates")
        winner = ctx.load("winner")
        metric = winner["primary_metric"]
        leaderboard = []
        for record in candidates:
            candidate = Candidate.load(record["model_path"])
            leaderboard.append({**record, "test_metrics": score_candidate(candidate, test, dataset["target"])})
        ctx.metric(**{f"{r['name']}_test_{metric}": r["test_metrics"].get(metric) for r in leaderboard})
        ctx.save("leaderboard", leaderboard)
        return "; ".join(f"{r['name']} test {metric} {fmt(r['test_metrics'].get(metric))}" for r in leaderboard)

    def gate(self, ctx: StationContext) -> str:
        winner, leaderboard = ctx.load("winner"), ctx.load("leaderboard")
        size_mb, latency, robustness = measure_winner(ctx, winner)
        assert latency is not None  # measured unless asked not to
        return close_gate(ctx, winner, leaderboard, size_mb, latency, robustness)

    def rework_1(self, ctx: StationContext) -> str:
        """A failed gate's first rework round (`mofang.evaluation.rework`)."""
        return rework_round(ctx, 1)

    def rework_2(self, ctx: StationContext) -> str:
        return rework_round(ctx, 2)

    def rework_3(self, ctx: StationContext) -> str:
        return rework_round(ctx, 3)

    def refit(self, ctx: StationContext) -> str:
        """With `deployment.refit_on_all_rows` and a passed gate: the winner fitted again on every labelled
        row (train + valid + test) for delivery, when the budget left allows it."""

        dataset, winner, gate = ctx.load("dataset"), ctx.load("winner"), ctx.load("gate")
        if not ctx.order.deployment.refit_on_all_rows or not task_spec(dataset["task"]).refit:
            return "not asked (the delivered model is the one measured on test)"
        if not gate["passed"]:
            return "not refitted: the gate failed"
        candidate = Candidate.load(winner["model_path"])
        if not refittable(candidate):
            ctx.reason(f"refit on all rows: {winner['name']} cannot be fitted without validation rows; "
                       "delivered as measured")
            return "not refitted: no member can be fitted without validation rows"
        rows = pd.concat([ctx.load(name) for name in ("train", "valid", "test")], ignore_index=True)
        record = next(r for r in ctx.load("candidates") if r["name"] == winner["name"])
        fitted_rows = len(ctx.load("train"))
        need = REFIT_MARGIN * estimate_seconds(record.get("single_fit_s"), fitted_rows, len(rows))
        left = ctx.remaining_s() - REFIT_RESERVE_S
        if need > max(left, REFIT_CHEAP_S):
            ctx.reason(f"refit on all rows skipped: about {need:.0f}s needed, {max(0.0, left):.0f}s left")
            return f"not refitted: {need:.0f}s needed, {max(0.0, left):.0f}s left"
        result = refit_on_rows(candidate, dataset, rows, ctx.order.seed)
        if result.candidate is None:
            return result.note
        path = result.candidate.save(ctx.path("models") / "delivered-all-rows.joblib")
        ctx.save("refit", {"model_path": str(path), "rows": result.rows, "note": result.note,
                           "refitted": result.refitted, "kept": result.kept})
        ctx.metric(refit_rows=result.rows)
        ctx.reason(f"delivered model: {result.note}; the test figures in this report are the model's before "
                   "the refit")
        return result.note

    def learning_curve(self, ctx: StationContext) -> str:
        """A task that draws a learning curve (text orders with few labels) does it in its own package."""
        return "no learning curve for this task"

    def report(self, ctx: StationContext) -> str:
        dataset, test, winner = ctx.load("dataset"), ctx.load("test"), ctx.load("winner")
        leaderboard, gate = ctx.load("leaderboard"), ctx.load("gate")
        metrics = next(r for r in leaderboard if r["name"] == winner["name"])["test_metrics"]
        verdict = "accepted" if gate["passed"] else "rejected"
        candidate = Candidate.load(winner["model_path"])
        p = predictions(candidate, test, dataset["target"])
        plots = _plots(candidate, p)
        robustness = ctx.load("robustness") if ctx.has("robustness") else None
        if robustness:
            plots["robustness"] = saved_robustness_plot(robustness, ctx.order.acceptance.max_robustness_drop)
        learning_curve = ctx.load("learning_curve") if ctx.has("learning_curve") else None
        if learning_curve:
            from mofang.evaluation.learning import curve_plot

            plots["learning_curve"] = curve_plot(learning_curve)
        # the task's metrics that some candidate has on test (e.g. no hamming_loss when single-label)
        names = [m for m in task_spec(ctx.order.task).metrics
                 if any(r["test_metrics"].get(m) is not None for r in leaderboard)]
        reads_text = any(f["kind"] == "text" for f in dataset["features"])
        content = {"order": ctx.order, "job_id": ctx.job_id, "task": ctx.order.task,
                   "dataset": dataset, "winner": winner, "metrics": metrics,
                   "primary_metric": winner["primary_metric"], "metric_names": names, "gate": gate,
                   "verdict": verdict, "leaderboard": leaderboard, "reasons": job_reasons(ctx, winner),
                   "per_class": (per_class_report(p["y_true"], p["y_pred"], candidate.classes_,
                                                  candidate.is_multi_label)
                                 if candidate.is_classifier else None),
                   "slices": (text_slices(candidate, test, dataset["target"], dataset["features"],
                                          winner["primary_metric"])
                              if reads_text else None),  # by text length: a model that reads text
                   "learning": learning_curve, "robustness": robustness,
                   "rework": ctx.load("rework") if ctx.has("rework") else None,
                   "max_robustness_drop": ctx.order.acceptance.max_robustness_drop}
        delivered = {}
        if ctx.has("refit"):  # the model to deliver: fitted again on every labelled row
            refit = ctx.load("refit")
            delivered = {"delivered_model_path": refit["model_path"], "refit": refit["note"]}
        return publish_report(ctx, content, plots, **delivered)


def close_gate(ctx: StationContext, winner: dict[str, Any], leaderboard: list[dict[str, Any]], size_mb: float,
               latency: dict[str, float], robustness: dict[str, Any] | None) -> str:
    """The gate on the winner's test metrics, size, latency and (when measured) robustness, recorded. A
    robustness measure is saved for the report even when the order does not gate on it."""
    row = next(r for r in leaderboard if r["name"] == winner["name"])
    gated = ctx.order.acceptance.max_robustness_drop is not None
    if robustness is None and gated:
        ctx.reason("max_robustness_drop: no held-out text to perturb (documents only), so it is not measurable")
    if robustness is not None:
        ctx.save("robustness", robustness)
        if not gated:
            robustness = None
    result = check_gate(ctx.order, row["test_metrics"], size_mb, latency["p95_ms"], robustness, row.get("unmeasured"))
    result.update(size_mb=round(size_mb, 4), p50_ms=round(latency["p50_ms"], 3),
                  p95_ms=round(latency["p95_ms"], 3), winner=winner["name"])
    return record_gate(ctx, result)


def publish_report(ctx: StationContext, content: dict[str, Any], plots: dict[str, bytes], **delivered: Any) -> str:
    """Write the report; save the evaluation (with `delivered`: the model to deliver when it is not the one
    measured) and the job's outcome."""
    path = write_report(ctx.path("report"), content, plots)
    winner, gate, verdict, metrics = content["winner"], content["gate"], content["verdict"], content["metrics"]
    failed = [c["name"] for c in gate["checks"] if not c["passed"]]
    evaluation = {"metrics": metrics, "leaderboard": content["leaderboard"], "gate": gate, "verdict": verdict,
                  "report_path": str(path), "primary_metric": winner["primary_metric"],
                  "winner": winner["name"], "plots": sorted(plots), **delivered}
    ctx.save("evaluation", evaluation)
    rounds = content.get("rework") or []
    ctx.set_outcome(verdict=verdict, failed_checks=failed, report=str(path), metrics=metrics,
                    rework=[{"round": r["round"], "tried": [a["kind"] for a in r["actions"]], "winner": r["winner"],
                             "passed": r["passed"]} for r in rounds])
    tried = "; ".join(f"round {r['round']} tried {', '.join(a['kind'] for a in r['actions']) or 'nothing'}"
                      for r in rounds)
    ctx.reason(f"verdict {verdict}" + (f": failed {', '.join(failed)}" if failed else "")
               + (f" after {len(rounds)} rework round(s) ({tried})" if rounds else ""))
    return f"{verdict.upper()} · report with {len(plots)} plots at {path}"


def _plots(candidate: Candidate, p: dict[str, Any]) -> dict[str, bytes]:
    importance = candidate.feature_importance()
    if candidate.is_multi_label:
        classes = list(candidate.classes_ or [])
        return multilabel_plots(indicator(p["y_true"], classes), indicator(p["y_pred"], classes), p["proba"],
                                classes, importance)
    if candidate.is_classifier:
        return classification_plots(p["y_true"], p["y_pred"], p["proba"], candidate.classes_, importance)
    return regression_plots(p["y_true"], p["y_pred"], importance)


def saved_robustness_plot(saved: dict[str, Any], max_drop: float | None) -> bytes:
    """The robustness plot of a measure saved by the gate (`robustness`)."""
    fields = {k: saved[k] for k in ("clean_score", "rows", "rate", "seed", "examples")}
    return robustness_plot(RobustnessReport(**fields), max_drop=max_drop,
                           title=bilingual(f"鲁棒性：各扰动下 {saved['metric']} 的下降",
                                           f"Robustness: drop of {saved['metric']} per perturbation"))


def job_reasons(ctx: StationContext, winner: dict[str, Any]) -> list[dict[str, str]]:
    """Every reason recorded by this job's processes so far; the winner's reason if none are."""

    with ctx.meta.session() as s:
        rows = s.execute(select(StationRun.station, ProcessRun.name, ProcessRun.reasons)
                         .join(ProcessRun, ProcessRun.station_run_id == StationRun.id)
                         .where(StationRun.job_id == ctx.job_id).order_by(ProcessRun.id)).all()
    reasons = [{"where": f"{station} · {process}", "text": text}
               for station, process, texts in rows for text in (texts or [])]
    if not reasons:  # processes run outside the line (no records): use the reasons kept in artifacts
        plan = ctx.load("plan") if ctx.has("plan") else {}
        reasons += [{"where": "model · plan", "text": t} for t in plan.get("reasons", [])]
        reasons += [{"where": "model · train", "text": c["note"]} for c in ctx.load("candidates") if "note" in c]
    reasons += [{"where": f"{ctx.station} · {ctx.process}", "text": t} for t in ctx.record.reasons]
    if not any(r["text"] == winner["reason"] for r in reasons):
        reasons.append({"where": "model · select", "text": winner["reason"]})
    return reasons


def fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
