"""Retrieval QA in the evaluation center: every ranking scored on the held-out test questions, the gate on the
knowledge base (its latency per question, its robustness to perturbed questions), and the report with example
answers; the center's `score`, `gate` and `report` for this task."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.core.metrics.grounding import describe, grounding_checker
from mofang.evaluation.measure import LATENCY_ROWS, robustness_rows
from mofang.evaluation.plots import retrieval_plots
from mofang.evaluation.robustness import robustness_report, worst_drop
from mofang.evaluation.scoring import ROBUSTNESS_ROWS
from mofang.evaluation.station import close_gate, fmt, job_reasons, publish_report, saved_robustness_plot
from mofang.station.context import StationContext
from mofang.tasks.retrieval.models import RetrievalModel
from mofang.tasks.retrieval.models.index import normalize_answer
from mofang.tasks.retrieval.models.metrics import RANK_METRICS, mean_reciprocal_rank, recall_at_k
from mofang.tasks.retrieval.models.product import DEPTH, GROUNDING_THRESHOLD

RETRIEVAL_TEST_METRICS = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr", "no_answer_precision",
                          "no_answer_recall", "answered_rate", "hallucination_rate")
COUNTS = ("questions", "unanswerable", "answered", "claims")
EXAMPLES = 3  # example questions shown in the report, with their top answers
EXAMPLE_K = 3


def score(ctx: StationContext) -> str:
    """Each built ranking on the held-out test questions: recall@k, MRR, no-answer precision/recall, and what a
    user gets: answered-rate and hallucination rate (each claim of each answer checked against the question's
    reference answer by `grounding_checker`, whose method is recorded)."""

    dataset, test, candidates = ctx.load("dataset"), ctx.load("test"), ctx.load("candidates")
    metric = ctx.load("winner")["primary_metric"]
    documents = dataset["retrieval"]["mode"] == "documents"
    checker = grounding_checker(GROUNDING_THRESHOLD)
    leaderboard = []
    for record in candidates:
        if record.get("skipped"):
            leaderboard.append({**record, "test_metrics": {}})
            continue
        if documents:
            test_metrics: dict[str, Any] = dict.fromkeys(RETRIEVAL_TEST_METRICS)
        else:
            test_metrics = RetrievalModel.load(record["model_path"]).evaluate(test, checker=checker)
        counts = {k: int(test_metrics.pop(k, 0) or 0) for k in COUNTS}
        leaderboard.append({**record, "test_metrics": test_metrics, "test_counts": counts,
                            "grounding": describe(checker), "unmeasured": _unmeasured(test_metrics, counts)})
    if documents:
        ctx.reason("no held-out questions (documents only): recall@k, MRR and no-answer precision cannot be "
                   "measured; the gate checks what can be measured (latency, size), and any metric the order "
                   "names fails as not measurable")
    else:
        ctx.reason(f"answers checked claim by claim against each test question's reference answer: {describe(checker)}"
                   "; a question left unanswered is not counted as grounded")
    built = [r for r in leaderboard if not r.get("skipped")]
    ctx.metric(**{f"{r['name']}_test_{metric}": r["test_metrics"].get(metric) for r in built})
    ctx.save("leaderboard", leaderboard)
    return "; ".join(f"{r['name']} test {metric} {fmt(r['test_metrics'].get(metric))}" for r in built)


def _unmeasured(metrics: dict[str, Any], counts: dict[str, int]) -> dict[str, str]:
    """Why a test metric is None (the gate says it when it fails on one)."""
    out = {}
    if metrics.get("hallucination_rate") is None and counts.get("questions"):
        out["hallucination_rate"] = (f"hallucination_rate is undefined: the product answered none of the "
                                     f"{counts['questions'] + counts.get('unanswerable', 0):,} test questions "
                                     "(an unanswered question is not a grounded one)")
    return out


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
                          f"({counts.get('unanswerable', 0):,}) as unanswerable. Answered-rate is the share of "
                          f"answerable questions answered; hallucination rate the share of the claims of the "
                          f"{counts.get('answered', 0):,} answers given ({counts.get('claims', 0):,} claims) that "
                          f"the question's reference answer does not support (an answer to an unanswerable "
                          f"question has no support), checked by "
                          f"{next(r for r in leaderboard if r['name'] == winner['name']).get('grounding') or '–'}."
                          )}
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


def retrieval_robustness(model: Any, test: pd.DataFrame, metric: str, seed: int = 0,
                         rows: int = ROBUSTNESS_ROWS) -> dict[str, Any]:
    """The robustness suite on a retrieval model's held-out questions: each question is perturbed (typos,
    homophones, traditional characters, punctuation, whitespace, truncation) and ranked again; the drop
    is in `metric` when it is a ranking metric (recall@k, MRR), else MRR. The answers are not touched."""
    questions, gold = model.held_out_questions(test, "test")
    if len(questions) > rows:
        keep = sorted(pd.Series(range(len(questions))).sample(rows, random_state=seed))
        questions, gold = [questions[i] for i in keep], [gold[i] for i in keep]
    name = metric if metric in RANK_METRICS else "mrr"

    def rank(batch: list[str]) -> list[list[int]]:
        return [list(row) for row in model.search(batch, DEPTH).index] if batch else []

    def score(truth: Any, ranked: Any) -> float:
        if name == "mrr":
            return mean_reciprocal_rank(ranked, truth)
        return recall_at_k(ranked, truth, RANK_METRICS[name])

    report = robustness_report(rank, questions, gold, score, seed=seed)
    return {"metric": name, "worst": worst_drop(report), **report.to_dict()}
