"""The evaluation center station: score every candidate on test, gate the winner, write the report."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import select

from mofang.core.metrics.predictive import per_class_report
from mofang.devices.capacity import Needs
from mofang.evaluation.anomaly import gate_anomaly, report_anomaly, score_anomaly
from mofang.evaluation.forecast import gate_forecast, refit_forecast, report_forecast, score_forecast
from mofang.evaluation.gates import check_gate, record_gate
from mofang.evaluation.plots import classification_plots, multilabel_plots, regression_plots, retrieval_plots
from mofang.evaluation.report import write_report
from mofang.evaluation.scoring import (
    REPORT_ONLY_ROWS,
    ROBUSTNESS_ROWS,
    predictions,
    retrieval_robustness,
    score_candidate,
    text_robustness,
    text_slices,
)
from mofang.models.candidate import Candidate
from mofang.models.labels import indicator
from mofang.orders.schema import METRICS_BY_TASK, Task
from mofang.station.context import StationContext
from mofang.station.contract import Station

LATENCY_ROWS = 200


class EvaluationCenter(Station):
    name = "evaluation"
    inputs = ("dataset", "test", "candidates", "winner")
    outputs = ("evaluation",)
    processes = ("score", "gate", "refit", "learning_curve", "report")
    resources = Needs(cpus=1, memory_gb=1)  # the winner scored on test; a refit on every row

    def score(self, ctx: StationContext) -> str:
        dataset, test, candidates = ctx.load("dataset"), ctx.load("test"), ctx.load("candidates")
        winner = ctx.load("winner")
        metric = winner["primary_metric"]
        if dataset["task"] == RETRIEVAL_QA:
            return self._score_retrieval(ctx, dataset, test, candidates, metric)
        if dataset["task"] == ANOMALY_DETECTION:
            return score_anomaly(ctx, dataset, test, candidates, metric)
        if dataset["task"] == TIME_SERIES_FORECAST:
            return score_forecast(ctx, dataset, candidates, metric)
        if dataset["task"] == INSTRUCTION_TUNING:
            from mofang.evaluation.generation import score_generation

            return score_generation(ctx, dataset, test, candidates, metric)
        leaderboard = []
        for record in candidates:
            candidate = Candidate.load(record["model_path"])
            leaderboard.append({**record, "test_metrics": score_candidate(candidate, test, dataset["target"])})
        ctx.metric(**{f"{r['name']}_test_{metric}": r["test_metrics"].get(metric) for r in leaderboard})
        ctx.save("leaderboard", leaderboard)
        return "; ".join(f"{r['name']} test {metric} {_fmt(r['test_metrics'].get(metric))}" for r in leaderboard)

    def gate(self, ctx: StationContext) -> str:
        winner, leaderboard, test = ctx.load("winner"), ctx.load("leaderboard"), ctx.load("test")
        row = next(r for r in leaderboard if r["name"] == winner["name"])
        robustness = None
        if ctx.load("dataset")["task"] == ANOMALY_DETECTION:
            return gate_anomaly(ctx, winner, leaderboard, test)
        if ctx.load("dataset")["task"] == TIME_SERIES_FORECAST:
            return gate_forecast(ctx, winner, leaderboard)
        if ctx.load("dataset")["task"] == INSTRUCTION_TUNING:
            from mofang.evaluation.generation import gate_generation

            return gate_generation(ctx, winner, leaderboard)
        if ctx.load("dataset")["task"] == RETRIEVAL_QA:
            from mofang.models.retrieval import RetrievalModel

            model = RetrievalModel.load(winner["model_path"])
            size_mb = RetrievalModel.size_mb(winner["model_path"])
            latency = model.measure_latency(_questions(model, test), n=LATENCY_ROWS)
        else:
            candidate = Candidate.load(winner["model_path"])
            size_mb = Candidate.size_mb(winner["model_path"])
            rows = test.drop(columns=[ctx.load("dataset")["target"]], errors="ignore").head(LATENCY_ROWS)
            latency = candidate.measure_latency(rows, n=LATENCY_ROWS)
        gated = ctx.order.acceptance.max_robustness_drop is not None
        # always measured for text models and retrieval questions (the report shows it); on a larger sample
        # when the gate needs it
        rows = ROBUSTNESS_ROWS if gated else REPORT_ONLY_ROWS
        dataset = ctx.load("dataset")
        if Task(ctx.order.task) == Task.TEXT_CLASSIFICATION:
            robustness = text_robustness(candidate, test, dataset["target"], dataset["features"],
                                         winner["primary_metric"], seed=ctx.order.seed, rows=rows)
        elif dataset["task"] == RETRIEVAL_QA and dataset["retrieval"]["mode"] != "documents":
            robustness = retrieval_robustness(model, test, winner["primary_metric"], seed=ctx.order.seed, rows=rows)
        elif gated:
            ctx.reason("max_robustness_drop: no held-out text to perturb (documents only), so it is not measurable")
        if robustness is not None:
            ctx.save("robustness", robustness)
            if not gated:
                robustness = None
        result = check_gate(ctx.order, row["test_metrics"], size_mb, latency["p95_ms"], robustness)
        result.update(size_mb=round(size_mb, 4), p50_ms=round(latency["p50_ms"], 3),
                      p95_ms=round(latency["p95_ms"], 3), winner=winner["name"])
        return record_gate(ctx, result)

    def refit(self, ctx: StationContext) -> str:
        """With `deployment.refit_on_all_rows` and a passed gate: the winner fitted again on every labelled
        row (train + valid + test) for delivery, when the budget left allows it."""
        from mofang.models.refit import REFIT_MARGIN, estimate_seconds, refit_on_rows, refittable

        dataset, winner, gate = ctx.load("dataset"), ctx.load("winner"), ctx.load("gate")
        if dataset["task"] == TIME_SERIES_FORECAST:  # always: a forecast starts after the latest data
            return refit_forecast(ctx, dataset, winner, gate)
        if not ctx.order.deployment.refit_on_all_rows or dataset["task"] not in REFIT_TASKS:
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
        """Text orders with few labels: how macro-F1 grows with labels (replayed labeling rounds, uncertainty
        vs random), for the report — when the budget left allows it."""
        from mofang.evaluation import learning

        dataset = ctx.load("dataset")
        if dataset["task"] != "text-classification" or dataset.get("multi_label"):
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

    def report(self, ctx: StationContext) -> str:
        dataset, test, winner = ctx.load("dataset"), ctx.load("test"), ctx.load("winner")
        leaderboard, gate = ctx.load("leaderboard"), ctx.load("gate")
        metrics = next(r for r in leaderboard if r["name"] == winner["name"])["test_metrics"]
        verdict = "accepted" if gate["passed"] else "rejected"
        if dataset["task"] == RETRIEVAL_QA:
            return self._report_retrieval(ctx, dataset, test, winner, leaderboard, gate, metrics, verdict)
        if dataset["task"] == ANOMALY_DETECTION:
            return report_anomaly(ctx, dataset, test, winner, leaderboard, gate, metrics, verdict,
                                  _reasons(ctx, winner))
        if dataset["task"] == TIME_SERIES_FORECAST:
            return report_forecast(ctx, dataset, winner, leaderboard, gate, verdict, _reasons(ctx, winner))
        if dataset["task"] == INSTRUCTION_TUNING:
            from mofang.evaluation.generation import report_generation

            return report_generation(ctx, dataset, winner, leaderboard, gate, verdict, _reasons(ctx, winner))
        candidate = Candidate.load(winner["model_path"])
        p = predictions(candidate, test, dataset["target"])
        plots = _plots(candidate, p)
        if ctx.has("robustness"):
            plots["robustness"] = _robustness_plot(ctx.load("robustness"), ctx.order.acceptance.max_robustness_drop)
        learning_curve = ctx.load("learning_curve") if ctx.has("learning_curve") else None
        if learning_curve:
            from mofang.evaluation.learning import curve_plot

            plots["learning_curve"] = curve_plot(learning_curve)
        names = list(METRICS_BY_TASK[Task(ctx.order.task)])
        if Task(ctx.order.task) == Task.TEXT_CLASSIFICATION:  # e.g. no hamming_loss when single-label
            names = [m for m in names if any(r["test_metrics"].get(m) is not None for r in leaderboard)]
        content = {"order": ctx.order, "job_id": ctx.job_id, "task": Task(ctx.order.task).value,
                   "dataset": dataset, "winner": winner, "metrics": metrics,
                   "primary_metric": winner["primary_metric"], "metric_names": names, "gate": gate,
                   "verdict": verdict, "leaderboard": leaderboard, "reasons": _reasons(ctx, winner),
                   "per_class": (per_class_report(p["y_true"], p["y_pred"], candidate.classes_,
                                                  candidate.is_multi_label)
                                 if candidate.is_classifier else None),
                   "slices": (text_slices(candidate, test, dataset["target"], dataset["features"],
                                          winner["primary_metric"])
                              if Task(ctx.order.task) == Task.TEXT_CLASSIFICATION else None),
                   "learning": learning_curve}
        path = write_report(ctx.path("report"), content, plots)
        failed = [c["name"] for c in gate["checks"] if not c["passed"]]
        evaluation = {"metrics": metrics, "leaderboard": leaderboard, "gate": gate, "verdict": verdict,
                      "report_path": str(path), "primary_metric": winner["primary_metric"],
                      "winner": winner["name"], "plots": sorted(plots)}
        if ctx.has("refit"):  # the model to deliver: fitted again on every labelled row
            refit = ctx.load("refit")
            evaluation.update(delivered_model_path=refit["model_path"], refit=refit["note"])
        ctx.save("evaluation", evaluation)
        ctx.set_outcome(verdict=verdict, failed_checks=failed, report=str(path), metrics=metrics)
        ctx.reason(f"verdict {verdict}" + (f": failed {', '.join(failed)}" if failed else ""))
        return f"{verdict.upper()} · report with {len(plots)} plots at {path}"


    # -- retrieval-qa ------------------------------------------------------------------------------
    def _score_retrieval(self, ctx: StationContext, dataset: dict[str, Any], test: Any,
                         candidates: list[dict[str, Any]], metric: str) -> str:
        from mofang.models.retrieval import RetrievalModel

        documents = dataset["retrieval"]["mode"] == "documents"
        leaderboard = []
        for record in candidates:
            if record.get("skipped"):
                leaderboard.append({**record, "test_metrics": {}})
                continue
            if documents:
                test_metrics: dict[str, Any] = dict.fromkeys(RETRIEVAL_TEST_METRICS)
            else:
                test_metrics = RetrievalModel.load(record["model_path"]).evaluate(test)
            counts = {k: int(test_metrics.pop(k, 0) or 0) for k in ("questions", "unanswerable")}
            leaderboard.append({**record, "test_metrics": test_metrics, "test_counts": counts})
        if documents:
            ctx.reason("no held-out questions (documents only): recall@k, MRR and no-answer precision cannot be "
                       "measured; the gate checks what can be measured (latency, size), and any metric the order "
                       "names fails as not measurable")
        built = [r for r in leaderboard if not r.get("skipped")]
        ctx.metric(**{f"{r['name']}_test_{metric}": r["test_metrics"].get(metric) for r in built})
        ctx.save("leaderboard", leaderboard)
        return "; ".join(f"{r['name']} test {metric} {_fmt(r['test_metrics'].get(metric))}" for r in built)

    def _report_retrieval(self, ctx: StationContext, dataset: dict[str, Any], test: Any, winner: dict[str, Any],
                          leaderboard: list[dict[str, Any]], gate: dict[str, Any], metrics: dict[str, Any],
                          verdict: str) -> str:
        from mofang.models.retrieval import RetrievalModel

        model = RetrievalModel.load(winner["model_path"])
        plots = retrieval_plots(leaderboard, winner["name"])
        if ctx.has("robustness"):
            plots["robustness"] = _robustness_plot(ctx.load("robustness"), ctx.order.acceptance.max_robustness_drop)
        documents = dataset["retrieval"]["mode"] == "documents"
        examples = _retrieval_examples(model, test, documents)
        shown = {k: metrics.get(k) for k in RETRIEVAL_TEST_METRICS}
        counts = next(r for r in leaderboard if r["name"] == winner["name"]).get("test_counts") or {}
        retrieval = {"metrics": shown, "passages": len(model.kb), "kind": model.kb.kind, "examples": examples,
                     "threshold": model.no_answer_.threshold if model.no_answer_ else None,
                     "note": ("Built from documents without questions: there are no held-out questions, so "
                              "recall@k, MRR and no-answer precision are not measured (shown as –); the examples "
                              "ask the start of a few passages." if documents else
                              f"Measured on {counts.get('questions', 0):,} held-out test questions (each "
                              f"answer indexed, the question itself held out); no-answer precision/recall count "
                              f"the same questions asked with their own answer hidden "
                              f"({counts.get('unanswerable', 0):,}) as unanswerable.")}
        content = {"order": ctx.order, "job_id": ctx.job_id, "task": RETRIEVAL_QA, "dataset": dataset,
                   "winner": winner, "metrics": metrics, "primary_metric": winner["primary_metric"],
                   "metric_names": list(RETRIEVAL_TEST_METRICS), "gate": gate, "verdict": verdict,
                   "leaderboard": leaderboard, "reasons": _reasons(ctx, winner), "per_class": None,
                   "retrieval": retrieval}
        path = write_report(ctx.path("report"), content, plots)
        failed = [c["name"] for c in gate["checks"] if not c["passed"]]
        evaluation = {"metrics": metrics, "leaderboard": leaderboard, "gate": gate, "verdict": verdict,
                      "report_path": str(path), "primary_metric": winner["primary_metric"],
                      "winner": winner["name"], "plots": sorted(plots)}
        ctx.save("evaluation", evaluation)
        ctx.set_outcome(verdict=verdict, failed_checks=failed, report=str(path), metrics=metrics)
        ctx.reason(f"verdict {verdict}" + (f": failed {', '.join(failed)}" if failed else ""))
        return f"{verdict.upper()} · report with {len(plots)} plots at {path}"


RETRIEVAL_QA = "retrieval-qa"
ANOMALY_DETECTION = "anomaly-detection"
TIME_SERIES_FORECAST = "time-series-forecast"
INSTRUCTION_TUNING = "instruction-tuning"
REFIT_TASKS = ("tabular-classification", "text-classification")  # tasks whose winner may be refitted on all rows
REFIT_RESERVE_S = 4.0  # kept after a refit for the report, packaging and delivery
REFIT_CHEAP_S = 5.0  # a refit estimated under this is done even past the budget (less than the budget's noise)
RETRIEVAL_TEST_METRICS = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr", "no_answer_precision",
                          "no_answer_recall")
EXAMPLES = 3  # example questions shown in the report, with their top answers
EXAMPLE_K = 3


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


def _questions(model: Any, test: Any) -> list[str]:
    """Questions to time the model with: the test questions, else (documents) the start of its passages."""
    column = model.columns.query_column if model.columns is not None else None
    if column is not None and column in test.columns and len(test):
        return [str(q) for q in test[column].head(LATENCY_ROWS) if q is not None and str(q).strip()]
    return [text[:30] for text in model.kb.texts[:LATENCY_ROWS]]


def _retrieval_examples(model: Any, test: Any, documents: bool) -> list[dict[str, Any]]:
    """A few test questions with the model's top answers, their sources and whether the right answer is
    among them (data is already desensitized by the data workshop)."""
    from mofang.models.retrieval.index import normalize_answer

    out = []
    if documents or model.columns is None or not len(test):
        for question in _questions(model, test)[:EXAMPLES]:
            answer = model.ask(question, EXAMPLE_K)
            out.append({**answer, "hit": None, "k": EXAMPLE_K})
        return out
    query, target = model.columns.query_column, model.columns.answer
    rows = test[test[query].notna() & test[target].notna()].head(EXAMPLES)
    for question, gold in zip(rows[query], rows[target], strict=True):
        answer = model.ask(str(question), EXAMPLE_K)
        hit = any(normalize_answer(a["answer"]) == normalize_answer(gold) for a in answer["answers"])
        out.append({**answer, "hit": hit, "k": EXAMPLE_K})
    return out


def _plots(candidate: Candidate, p: dict[str, Any]) -> dict[str, bytes]:
    importance = candidate.feature_importance()
    if candidate.is_multi_label:
        classes = list(candidate.classes_ or [])
        return multilabel_plots(indicator(p["y_true"], classes), indicator(p["y_pred"], classes), p["proba"],
                                classes, importance)
    if candidate.is_classifier:
        return classification_plots(p["y_true"], p["y_pred"], p["proba"], candidate.classes_, importance)
    return regression_plots(p["y_true"], p["y_pred"], importance)


def _robustness_plot(saved: dict[str, Any], max_drop: float | None) -> bytes:
    from mofang.evaluation.robustness import RobustnessReport, robustness_plot

    fields = {k: saved[k] for k in ("clean_score", "rows", "rate", "seed", "examples")}
    return robustness_plot(RobustnessReport(**fields), max_drop=max_drop,
                           title=f"Robustness: drop of {saved['metric']} per perturbation")


def _reasons(ctx: StationContext, winner: dict[str, Any]) -> list[dict[str, str]]:
    """Every reason recorded by this job's processes so far; the winner's reason if none are."""
    from mofang.store.models import ProcessRun, StationRun

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


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
