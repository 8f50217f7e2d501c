"""Retrieval QA in the evaluation center: every ranking scored on the held-out test questions, the gate on the
knowledge base (its latency per question, its robustness to perturbed questions), and the report with example
answers; the center's `score`, `gate` and `report` for this task."""

from __future__ import annotations

from typing import Any

from mofang.evaluation.plots import retrieval_plots
from mofang.evaluation.scoring import retrieval_robustness
from mofang.evaluation.station import (
    LATENCY_ROWS,
    close_gate,
    fmt,
    job_reasons,
    publish_report,
    robustness_rows,
    saved_robustness_plot,
)
from mofang.models.retrieval import RetrievalModel
from mofang.models.retrieval.index import normalize_answer
from mofang.station.context import StationContext

RETRIEVAL_TEST_METRICS = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr", "no_answer_precision",
                          "no_answer_recall")
EXAMPLES = 3  # example questions shown in the report, with their top answers
EXAMPLE_K = 3


def score(ctx: StationContext) -> str:

    dataset, test, candidates = ctx.load("dataset"), ctx.load("test"), ctx.load("candidates")
    metric = ctx.load("winner")["primary_metric"]
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
    return "; ".join(f"{r['name']} test {metric} {fmt(r['test_metrics'].get(metric))}" for r in built)


def gate(ctx: StationContext) -> str:
    """The shared gate on the knowledge base: latency per test question; robustness measured on perturbed test
    questions when there are any (documents only: none, so a gate on it cannot be measured)."""

    winner, leaderboard, test = ctx.load("winner"), ctx.load("leaderboard"), ctx.load("test")
    dataset = ctx.load("dataset")
    model = RetrievalModel.load(winner["model_path"])
    size_mb = RetrievalModel.size_mb(winner["model_path"])
    latency = model.measure_latency(questions(model, test), n=LATENCY_ROWS)
    robustness = (retrieval_robustness(model, test, winner["primary_metric"], seed=ctx.order.seed,
                                       rows=robustness_rows(ctx.order))
                  if dataset["retrieval"]["mode"] != "documents" else None)
    return close_gate(ctx, winner, leaderboard, size_mb, latency, robustness)


def report(ctx: StationContext) -> str:

    dataset, test, winner = ctx.load("dataset"), ctx.load("test"), ctx.load("winner")
    leaderboard, gate = ctx.load("leaderboard"), ctx.load("gate")
    metrics = next(r for r in leaderboard if r["name"] == winner["name"])["test_metrics"]
    verdict = "accepted" if gate["passed"] else "rejected"
    model = RetrievalModel.load(winner["model_path"])
    plots = retrieval_plots(leaderboard, winner["name"])
    if ctx.has("robustness"):
        plots["robustness"] = saved_robustness_plot(ctx.load("robustness"), ctx.order.acceptance.max_robustness_drop)
    documents = dataset["retrieval"]["mode"] == "documents"
    examples = _examples(model, test, documents)
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
    content = {"order": ctx.order, "job_id": ctx.job_id, "task": dataset["task"], "dataset": dataset,
               "winner": winner, "metrics": metrics, "primary_metric": winner["primary_metric"],
               "metric_names": list(RETRIEVAL_TEST_METRICS), "gate": gate, "verdict": verdict,
               "leaderboard": leaderboard, "reasons": job_reasons(ctx, winner), "per_class": None,
               "retrieval": retrieval}
    return publish_report(ctx, content, plots)


def questions(model: Any, test: Any) -> list[str]:
    """Questions to time the model with: the test questions, else (documents) the start of its passages."""
    column = model.columns.query_column if model.columns is not None else None
    if column is not None and column in test.columns and len(test):
        return [str(q) for q in test[column].head(LATENCY_ROWS) if q is not None and str(q).strip()]
    return [text[:30] for text in model.kb.texts[:LATENCY_ROWS]]


def _examples(model: Any, test: Any, documents: bool) -> list[dict[str, Any]]:
    """A few test questions with the model's top answers, their sources and whether the right answer is
    among them (data is already desensitized by the data workshop)."""

    out = []
    if documents or model.columns is None or not len(test):
        for question in questions(model, test)[:EXAMPLES]:
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
