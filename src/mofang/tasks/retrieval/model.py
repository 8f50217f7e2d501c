"""Retrieval QA in the model workshop: one knowledge base and its internal candidates (BM25, dense, hybrid),
tuned on the validation questions; the workshop's `plan`, `train` and `select` for this task."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from mofang.core.metrics.predictive import is_better
from mofang.models.limits import within_limits
from mofang.models.metric import primary_metric
from mofang.models.station import LATENCY_S, ModelWorkshop, fmt
from mofang.station.context import StationContext
from mofang.tasks.retrieval.models import QAColumns, RetrievalModel, tune_fusion
from mofang.tasks.retrieval.models.dense import DenseIndex
from mofang.tasks.retrieval.models.metrics import RANK_METRICS, metric_from_ranks, ranks_from_scores
from mofang.tasks.retrieval.models.product import _encoder, _unreadable

DENSE = ("lsa", "minilm")  # dense encoders a retrieval model tries besides BM25 (minilm skipped on Chinese)
LSA_COST = 8.0  # an LSA index took ~7× as long as BM25 on the same passages (7.6k medical Q/A pairs, 2 cores)
NO_ANSWER_PRECISION = 0.9  # target precision of "no answer" when the order does not gate on it


def plan(ctx: StationContext) -> str:

    dataset = ctx.load("dataset")
    metric, direction = primary_metric(ctx.order) if ctx.order.acceptance.metrics else ("mrr", "higher")
    tune_metric = metric if metric in RANK_METRICS else "mrr"
    budget, remaining = ctx.budget_s, ctx.remaining_s()
    reserve = max(6.0, 0.10 * budget)
    train_s = max(0.0, remaining - reserve - 3 * LATENCY_S)
    mode = dataset["retrieval"]["mode"]
    reasons = [f"select by {metric} ({direction} is better): "
               + ("the order's first acceptance metric" if ctx.order.acceptance.metrics
                  else f"the default for {dataset['task']}")]
    if tune_metric != metric:
        reasons.append(f"rankings are tuned on validation {tune_metric} ({metric} is not a ranking metric)")
    rows = sum(dataset["rows"].values())
    reasons.append(f"one knowledge base of {rows:,} "
                   + ("document records" if mode == "documents" else "question–answer pairs (valid and test "
                      "answers indexed too, their questions held out)")
                   + f"; candidates bm25, dense-lsa, dense-minilm and their hybrids within {train_s:.0f}s "
                   f"({remaining:.0f}s left of {budget:.0f}s, {reserve:.0f}s kept for evaluation and delivery)")
    if mode == "documents":
        reasons.append("documents without questions: BM25 only (no validation questions to tune a dense "
                       "retriever, a fusion or a no-answer threshold on)")
    plan = {"task": dataset["task"], "families": ["retrieval"], "primary_metric": metric, "direction": direction,
            "tune_metric": tune_metric, "mode": mode, "budget_s": round(budget, 2),
            "remaining_s": round(remaining, 2), "reserve_s": round(reserve, 2), "train_s": round(train_s, 2),
            "train_until_elapsed_s": round(ctx.elapsed_s() + train_s, 2), "shares": {"retrieval": 1.0},
            "seconds": {"retrieval": round(train_s, 2)}, "reasons": reasons}
    for text in reasons:
        ctx.reason(text)
    ctx.param(**{k: plan[k] for k in ("families", "primary_metric", "tune_metric", "train_s", "reserve_s")})
    ctx.save("plan", plan)
    return f"retrieval on {metric}: {train_s:.0f}s to index and tune"


def train(ctx: StationContext) -> str:

    plan, dataset = ctx.load("plan"), ctx.load("dataset")
    info, order = dataset["retrieval"], ctx.order
    train, valid, test = ctx.load("train"), ctx.load("valid"), ctx.load("test")
    folder = ctx.path("models")
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    calls = ModelWorkshop.latency_calls
    ctx.advance(0, 3, "indexing with BM25")
    if info["mode"] == "documents":
        model = RetrievalModel.from_documents(train, dense=(), name=order.id)
    else:
        columns = QAColumns.for_order(info["text"], dataset["target"], info["id_column"], sources=info["sources"])
        model = RetrievalModel.from_pairs(train, columns, held_out=[valid, test], dense=(), name=order.id)
        _add_dense(ctx, model, plan)
    ctx.advance(1, 3, "tuning on validation questions")
    variants: dict[str, Any] = {"bm25": model.variant("bm25")}
    if info["mode"] == "documents":
        model.reasons = ["ranking bm25: documents without questions (nothing to tune on)"]
        questions, gold = [], []
    else:
        report = model.tune(valid, metric=plan["tune_metric"], target_precision=_no_answer_target(order),
                            prune=False, seed=order.seed)
        questions, gold = model.held_out_questions(valid, "validation")
        variants.update(_retrieval_variants(model, questions, gold, plan["tune_metric"]))
        if model.family not in variants:  # tuned on a sample of the questions: its fusion replaces ours
            variants = {k: v for k, v in variants.items() if not (k.startswith("hybrid-")
                                                                  and k.endswith(f"+{model.second_}"))}
            variants[model.family] = model
        for reason in report["reasons"]:
            ctx.reason(reason)
    chosen = model.family
    ctx.advance(2, 3, "measuring candidates")
    records = []
    for name, variant in variants.items():
        if name == chosen:
            variant = model
        elif questions:
            _calibrate(variant, questions, gold, _no_answer_target(order))
        pruned = _pruned(variant)
        path = pruned.save(folder / f"{_slug(name)}.joblib")
        metrics = (pruned.evaluate(valid) if questions else _no_metrics())
        for count in ("questions", "unanswerable", "answered", "claims"):
            metrics.pop(count, None)
        sample = valid if questions else _document_questions(pruned)
        latency = pruned.measure_latency(sample, n=calls, max_seconds=LATENCY_S)
        used = [n for n in (pruned.first_, pruned.second_) if n]
        note = (f"{name}: valid {plan['tune_metric']} {fmt(metrics.get(plan['tune_metric']))}, recall@1 "
                f"{fmt(metrics.get('recall_at_1'))}, recall@5 {fmt(metrics.get('recall_at_5'))}; indexed "
                f"{len(model.kb):,} passages in {sum(model.build_times.get(n, 0.0) for n in used):.1f}s"
                + (f"; no answer {pruned.no_answer_.reason}" if pruned.no_answer_ else ""))
        ctx.reason(note)
        records.append({"name": name, "family": "retrieval", "params": _jsonable_params(pruned.params),
                        "valid_metrics": metrics, "fit_seconds": round(sum(model.build_times.get(n, 0.0)
                                                                           for n in used), 3),
                        "budget_s": plan["train_s"], "trials": 1 if pruned.fusion_ is None else 33,
                        "model_path": str(path), "size_mb": round(RetrievalModel.size_mb(path), 4),
                        "p50_ms": round(latency["p50_ms"], 3), "p95_ms": round(latency["p95_ms"], 3),
                        "note": note, "tuned_choice": name == chosen})
    for name, reason in model.skipped.items():
        ctx.reason(reason)
        records.append({"name": f"dense-{name}", "family": "retrieval", "skipped": reason, "params": {},
                        "valid_metrics": {}, "fit_seconds": 0.0, "budget_s": plan["train_s"], "trials": 0,
                        "model_path": None, "size_mb": None, "p50_ms": None, "p95_ms": None, "note": reason})
    ctx.advance(3, 3, "done")
    ctx.save("candidates", records)
    metric = plan["tune_metric"]
    ctx.metric(**{f"{r['name']}_{metric}": r["valid_metrics"].get(metric) for r in records if not r.get("skipped")})
    return (f"{len(model.kb):,} passages; " + "; ".join(
        f"{r['name']} {metric} {fmt(r['valid_metrics'].get(metric))}" for r in records if not r.get("skipped"))
        + f" ({time.monotonic() - started:.1f}s)")


def select(ctx: StationContext) -> str:
    plan, candidates = ctx.load("plan"), ctx.load("candidates")
    metric, direction = plan["primary_metric"], plan["direction"]
    acceptance = ctx.order.acceptance
    built = [r for r in candidates if not r.get("skipped")]
    limits = within_limits(built, acceptance)
    pool = limits.pool
    tuned = next((r for r in pool if r.get("tuned_choice")), None)
    if plan.get("mode") == "documents":
        best, why_best = pool[0], "BM25 over the documents (no questions to tune or compare rankings on)"
    elif tuned is not None and (metric == plan["tune_metric"] or len(pool) == 1):
        best = tuned  # validation already chose it: the simplest ranking within MIN_GAIN of the best
        why_best = f"the ranking tuned on valid {plan['tune_metric']} (the simplest within noise of the best)"
    else:
        best = pool[0]
        for record in pool[1:]:
            if is_better(record["valid_metrics"].get(metric), best["valid_metrics"].get(metric), direction):
                best = record
        why_best = f"best {metric} on valid"
    score = best["valid_metrics"].get(metric)
    reason = (f"picked {best['name']}: {why_best}, {metric} {fmt(score)}, {best['size_mb']:.3g} MB, "
              f"p95 {best['p95_ms']:.1f} ms per question") + limits.note
    ctx.reason(reason)
    winner = {"name": best["name"], "family": "retrieval", "model_path": best["model_path"],
              "primary_metric": metric, "direction": direction, "valid_score": score, "reason": reason}
    ctx.metric(winner=best["name"], valid_score=score)
    ctx.save("winner", winner)
    return reason


def _add_dense(ctx: StationContext, model: Any, plan: dict[str, Any]) -> None:
    """Index the dense encoders the budget allows (an LSA index costs about LSA_COST × BM25's time); a
    skipped one keeps its reason in `model.skipped`, as the library does for unreadable encoders."""

    texts = model.kb.texts
    for spec in DENSE:
        left = plan["train_until_elapsed_s"] - ctx.elapsed_s()
        needed = LSA_COST * model.build_times["bm25"] if spec == "lsa" else 2 * LSA_COST * model.build_times["bm25"]
        if left < needed:
            model.skipped[spec] = (f"{spec} skipped: about {needed:.0f}s to index {len(texts):,} passages, "
                                   f"{max(0.0, left):.0f}s of the training budget left")
            continue
        ctx.advance(0, 3, f"indexing with {spec}")
        encoder = _encoder(spec, (1, 2), 256)
        if isinstance(encoder, str):
            model.skipped[spec] = f"{spec} skipped: {encoder}"
            continue
        reason = _unreadable(encoder, texts, 0.10)
        if reason:
            model.skipped[encoder.name] = reason
            continue
        begun = time.perf_counter()
        model.retrievers_[encoder.name] = DenseIndex(encoder).fit(texts)
        model.build_times[encoder.name] = time.perf_counter() - begun


def _no_answer_target(order: Any) -> float:
    """The no-answer precision the threshold is calibrated for: the order's bar on no_answer_precision when it
    sets one (a little above, for the test split), else NO_ANSWER_PRECISION."""
    criterion = order.acceptance.metrics.get("no_answer_precision")
    if criterion is None or criterion.op not in (">=", ">"):
        return NO_ANSWER_PRECISION
    return float(min(1.0, max(NO_ANSWER_PRECISION, criterion.value + 0.02)))


def _retrieval_variants(model: Any, questions: list[str], gold: list[set[int]], metric: str) -> dict[str, Any]:
    """Each dense retriever alone and the best fusion of BM25 with it on validation `metric`, by family name."""

    out: dict[str, Any] = {}
    dense = [n for n in model.retrievers_ if n != "bm25"]
    if not dense:
        return out
    bm25 = model.retrievers_["bm25"].scores(questions)
    for name in dense:
        single = model.variant(name)
        out[single.family] = single
        scores = model.retrievers_[name].scores(questions)
        choice = tune_fusion(bm25, scores, lambda s: metric_from_ranks(ranks_from_scores(s, gold), metric))
        fused = model.variant("bm25", name, choice.fusion)
        out[fused.family] = fused
    return out


def _calibrate(model: Any, questions: list[str], gold: list[set[int]], target_precision: float) -> None:
    """A variant's own no-answer threshold on the validation questions (as `RetrievalModel.tune` does)."""
    names = [n for n in (model.first_, model.second_ if model.fusion_ else None) if n]
    parts = model._component_scores(questions, names)
    model._calibrate(parts, questions, gold, (), target_precision, True)


def _pruned(model: Any) -> Any:
    """A copy that keeps BM25 (the fallback) and the retrievers its ranking uses."""
    import copy

    keep = ("bm25", model.first_, model.second_ if model.fusion_ else None)
    out = copy.copy(model)
    out.retrievers_ = {n: r for n, r in model.retrievers_.items() if n in keep}
    return out


def _document_questions(model: Any, n: int = 200) -> list[str]:
    """Stand-in questions for timing a documents model: the first characters of its passages."""
    return [text[:30] for text in model.kb.texts[:n]]


def _no_metrics() -> dict[str, Any]:
    return {m: None for m in ("recall_at_1", "recall_at_5", "recall_at_10", "mrr", "no_answer_precision",
                              "no_answer_recall", "answered_rate", "hallucination_rate")}


def _jsonable_params(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _slug(name: str) -> str:

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
