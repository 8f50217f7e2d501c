"""The evaluation center for instruction-tuned models: base and tuned models answer the same held-out prompts,
side by side. Scored: exact match, token F1, ROUGE-L and BLEU on Chinese-aware tokens; a grounding check of
every answer's claims against the reference (or, with RAG, the retrieved passages) — unsupported claims count as
hallucinations; multiple-choice accuracy by log-likelihood when the references are option letters; the refusal
rate on out-of-domain questions never trained on; the test loss; optionally an LLM judge."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from mofang.core.metrics.generation import choice_letter, is_refusal, score_generations
from mofang.core.metrics.grounding import describe, grounding, grounding_checker
from mofang.core.plots import render_png
from mofang.core.tasks import spec as task_spec
from mofang.evaluation.gates import check_gate, record_gate
from mofang.evaluation.report import write_report
from mofang.station.context import StationContext
from mofang.tasks.llm.judge import judge_answers
from mofang.tasks.llm.models.chat import ChatModel
from mofang.tasks.llm.models.conversations import PASSAGES, conversations
from mofang.tasks.llm.models.endpoint import configured_endpoint
from mofang.tasks.llm.models.sft import validation_loss
from mofang.tasks.llm.models.workshop import encode, open_order_base, rag_settings

OUT_OF_DOMAIN_ROWS = 20  # out-of-domain questions asked per model for the refusal check
CHOICE_SHARE = 0.9  # references read as option letters on at least this share: a multiple-choice set
LETTERS = "ABCDEF"
SAMPLES = 8  # prompts shown side by side in the report
LATENCY_CALLS = 5


def load_chat(record: dict[str, Any], template: str, base_path: str) -> Any:
    """A candidate as a ChatModel: a full checkpoint folder, or a LoRA adapter on the base checkpoint."""

    if record.get("adapter"):
        return ChatModel.load(base_path, adapter=record["model_dir"], chat_template=template)
    return ChatModel.load(record["model_dir"], chat_template=template)


def _sources(rows: Any) -> list[list[str]] | None:
    """What a RAG answer must be grounded in: its retrieved passages and its reference (None: the reference)."""
    if PASSAGES not in rows.columns:
        return None
    return [[p["text"] for p in json.loads(passages or "[]")] + [str(reference)]
            for passages, reference in zip(rows[PASSAGES], rows["response"], strict=True)]


def choice_rows(rows: Any) -> list[tuple[int, str]]:
    """(row position, reference letter) when the test set is multiple choice (single-answer rows only)."""
    letters = [choice_letter(str(r)) for r in rows["response"]]
    if not letters or sum(bool(x) for x in letters) < CHOICE_SHARE * len(letters):
        return []
    return [(i, x) for i, x in enumerate(letters) if x and len(x) == 1]


def _options(prompt: str) -> list[str]:
    """Option letters a multiple-choice prompt offers (A–D when it lists none)."""
    import re

    found = sorted(set(re.findall(r"(?<![A-Za-z])([A-F])\s*[\.．、:：)）]", prompt)))
    return found if len(found) >= 2 else list(LETTERS[:4])


def score_model(llm: Any, model: Any, rows: Any, convs: list[Any], ood: list[str],
                choices: list[tuple[int, str]], examples: list[Any]) -> tuple[dict[str, Any], list[str]]:
    """A model's metrics on the test prompts (`llm`: the order's llm settings), and its answers."""

    started = time.monotonic()
    replies = model.generate_batch(convs, max_new_tokens=llm.max_new_tokens)
    seconds = time.monotonic() - started
    answers = [r.text for r in replies]
    references = [str(r) for r in rows["response"]]
    # claims are checked against the retrieved passages and the reference (RAG) or the reference alone
    metrics: dict[str, Any] = score_generations(answers, references, sources=_sources(rows) or [None] * len(rows),
                                                refusal_message=llm.refusal_message,
                                                checker=grounding_checker(llm.grounding_threshold))
    generated = sum(r.completion_tokens for r in replies)
    metrics["generated_tokens_per_s"] = round(generated / seconds, 2) if seconds else None
    metrics["false_refusal_rate"] = float(np.mean([is_refusal(a, llm.refusal_message) for a in answers]))
    if ood:
        system = [{"role": "system", "content": llm.system_prompt}] if llm.system_prompt else []
        refused = model.generate_batch([[*system, {"role": "user", "content": q}] for q in ood],
                                       max_new_tokens=min(llm.max_new_tokens, 64))
        metrics["refusal_rate"] = float(np.mean([is_refusal(r.text, llm.refusal_message) for r in refused]))
        # out-of-domain questions are the unanswerable ones: refusing them is no-answer recall
        metrics["no_answer_recall"] = metrics["refusal_rate"]
    if choices:
        right = 0
        for position, letter in choices:
            options = _options(str(rows.iloc[position]["prompt"]))
            picked = options[model.choose(convs[position], options)]
            right += picked == letter
        metrics["choice_accuracy"] = right / len(choices)
    metrics["eval_loss"] = round(validation_loss(model.model, examples, 8, model.pad_id, model.device), 5)
    return metrics, answers


def score_generation(ctx: StationContext, dataset: dict[str, Any], test: Any, candidates: list[dict[str, Any]],
                     metric: str) -> str:
    """Base and tuned models answer the first llm.eval_rows test prompts; other trials were compared by
    validation loss (generation is the slow part) and are listed with it."""

    order, llm = ctx.order, ctx.order.llm
    winner, plan = ctx.load("winner"), ctx.load("plan")
    rows = test.head(llm.eval_rows).reset_index(drop=True)
    if rows.empty:
        raise ValueError("no test conversations to evaluate on")
    convs = conversations(rows, llm.system_prompt, with_response=False, rag=rag_settings(order))
    ood = list((dataset.get("instructions") or {}).get("out_of_domain") or [])[:OUT_OF_DOMAIN_ROWS]
    choices = choice_rows(rows)
    examples = encode(open_order_base(order), rows, order)
    compared = {"base": next(r for r in candidates if r["family"] == "base"),
                winner["name"]: {**next(r for r in candidates if r["name"] == winner["name"]),
                                 "model_dir": winner["model_dir"], "adapter": winner["adapter"]}}
    leaderboard, answers = [], {}
    for index, (name, record) in enumerate(compared.items()):
        ctx.advance(index, len(compared), f"{name}: answering {len(rows)} test prompts")
        model = load_chat(record, plan["template"], plan["base"])
        metrics, answers[name] = score_model(llm, model, rows, convs, ood, choices, examples)
        leaderboard.append({**record, "test_metrics": metrics})
        del model
    if llm.judge:
        _judge(ctx, rows, convs, answers, leaderboard)
    for record in candidates:
        if record["name"] not in compared:
            leaderboard.append({**record, "test_metrics": {}, "note": record.get("note", "") +
                                " — compared by validation loss only"})
    samples = []
    sources = _sources(rows)
    checker = grounding_checker(llm.grounding_threshold)
    for i in range(min(SAMPLES, len(rows))):
        checked = grounding(answers[winner["name"]][i], (sources[i] if sources else [str(rows["response"][i])]),
                            checker=checker)
        samples.append({"prompt": str(rows["prompt"][i]), "reference": str(rows["response"][i]),
                        "base": answers["base"][i], "tuned": answers[winner["name"]][i],
                        "claims": [{"text": c, "supported": s} for c, s in zip(checked.claims, checked.supported,
                                                                                 strict=True)]})
    ctx.save("generations", {"samples": samples, "rows": len(rows), "out_of_domain": len(ood),
                             "choice_rows": len(choices), "grounding": describe(checker)})
    ctx.reason(f"base and {winner['name']} answered {len(rows)} test prompts (greedy, at most "
               f"{llm.max_new_tokens} new tokens) and {len(ood)} out-of-domain questions; claims checked against "
               + ("the retrieved passages and the reference" if sources else "the reference")
               + f" by {describe(checker)}; an empty, refused or 'I don't know' answer is unanswered, not grounded"
               + (f"; {len(choices)} multiple-choice rows scored by log-likelihood" if choices else ""))
    ctx.metric(**{f"{r['name']}_test_{metric}": r["test_metrics"].get(metric) for r in leaderboard[:2]})
    ctx.save("leaderboard", leaderboard)
    return "; ".join(f"{r['name']} test {metric} {_fmt(r['test_metrics'].get(metric))}" for r in leaderboard[:2])


def _judge(ctx: StationContext, rows: Any, convs: list[Any], answers: dict[str, list[str]],
           leaderboard: list[dict[str, Any]]) -> None:
    """LLM-as-judge scores through the configured endpoint (llm.judge); skipped with the reason when none."""
    client = configured_endpoint()
    if client is None:
        ctx.reason("llm.judge asked, but no endpoint is configured (MOFANG_LLM_ENDPOINT): judge_score not measured")
        return
    questions = [c[-1]["content"] for c in convs]
    references = [str(r) for r in rows["response"]]
    for record in leaderboard:
        judged = judge_answers(client, questions, references, answers[record["name"]])
        record["test_metrics"]["judge_score"] = judged["judge_score"]
        ctx.reason(f"judge ({client.url}) scored {judged['judged']} answers of {record['name']}: "
                   f"{_fmt(judged['judge_score'])} ({judged['unparsed']} unparsed)")


def gate_generation(ctx: StationContext, winner: dict[str, Any], leaderboard: list[dict[str, Any]]) -> str:
    """The order's acceptance on the tuned model's test metrics; latency is the time to the first streamed
    token of a reply (what a chat user waits for), size the delivered weights."""
    row = next(r for r in leaderboard if r["name"] == winner["name"])
    model = load_chat(winner, winner["chat_template"], winner["base_model_path"])
    test = ctx.load("test")
    convs = conversations(test.head(LATENCY_CALLS), ctx.order.llm.system_prompt, with_response=False,
                          rag=rag_settings(ctx.order))
    first = []
    for messages in convs:
        started = time.perf_counter()
        pieces = iter(model.stream(messages, max_new_tokens=8))
        next(pieces, None)
        first.append((time.perf_counter() - started) * 1000)
        for _ in pieces:
            pass
    size_mb = _size_mb(Path(winner["model_dir"]))
    p50, p95 = (float(np.percentile(first, q)) for q in (50, 95))
    unmeasured = ({"hallucination_rate": "hallucination_rate is undefined: the tuned model answered none of the "
                                         "test prompts (an unanswered prompt is not a grounded one)"}
                  if row["test_metrics"].get("hallucination_rate") is None else {})
    result = check_gate(ctx.order, row["test_metrics"], size_mb, p95, None, unmeasured)
    result.update(size_mb=round(size_mb, 3), p50_ms=round(p50, 2), p95_ms=round(p95, 2), winner=winner["name"],
                  latency="time to the first streamed token")
    return record_gate(ctx, result)


def report_generation(ctx: StationContext, dataset: dict[str, Any], winner: dict[str, Any],
                      leaderboard: list[dict[str, Any]], gate: dict[str, Any], verdict: str,
                      reasons: list[dict[str, str]]) -> str:
    metrics = next(r for r in leaderboard if r["name"] == winner["name"])["test_metrics"]
    base = next(r for r in leaderboard if r["family"] == "base")["test_metrics"]
    directions = task_spec(dataset["task"]).metrics
    names = [m for m in (*directions, "false_refusal_rate", "generated_tokens_per_s")
             if metrics.get(m) is not None or base.get(m) is not None]
    plots = {"generation_metrics": _metrics_plot(base, metrics, winner["name"]),
             "training_curve": _curve_plot(ctx.load("candidates"))}
    generation = {"compare": [{"metric": m, "base": base.get(m), "tuned": metrics.get(m),
                               "direction": directions.get(m, "")} for m in names],
                  **ctx.load("generations"), "winner": winner["name"],
                  "trials": [r for r in ctx.load("candidates") if r["family"] != "base"],
                  "merged": not winner["adapter"] and winner["family"] == "sft-lora"}
    content = {"order": ctx.order, "job_id": ctx.job_id, "task": dataset["task"], "dataset": dataset,
               "winner": winner, "metrics": metrics, "primary_metric": winner["primary_metric"],
               "metric_names": names, "gate": gate, "verdict": verdict,
               "leaderboard": [r for r in leaderboard if r["test_metrics"]], "reasons": reasons, "per_class": None,
               "generation": generation}
    path = write_report(ctx.path("report"), content, plots)
    failed = [c["name"] for c in gate["checks"] if not c["passed"]]
    evaluation = {"metrics": metrics, "base_metrics": base, "leaderboard": leaderboard, "gate": gate,
                  "verdict": verdict, "report_path": str(path), "primary_metric": winner["primary_metric"],
                  "winner": winner["name"], "plots": sorted(plots)}
    ctx.save("evaluation", evaluation)
    ctx.set_outcome(verdict=verdict, failed_checks=failed, report=str(path), metrics=metrics)
    ctx.reason(f"verdict {verdict}" + (f": failed {', '.join(failed)}" if failed else ""))
    return f"{verdict.upper()} · report with base-vs-tuned answers at {path}"


def _metrics_plot(base: dict[str, Any], tuned: dict[str, Any], name: str) -> bytes:
    shown = [m for m in ("rouge_l", "bleu", "f1", "exact_match", "choice_accuracy", "answered_rate", "grounded_rate",
                         "hallucination_rate", "refusal_rate") if base.get(m) is not None or tuned.get(m) is not None]

    def draw(ax: Any) -> None:
        x = np.arange(len(shown))
        ax.bar(x - 0.2, [base.get(m) or 0 for m in shown], 0.4, label="base", color="#999")
        ax.bar(x + 0.2, [tuned.get(m) or 0 for m in shown], 0.4, label=name, color="#1565c0")
        ax.set_xticks(x, shown, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title("Base vs tuned on the test prompts")
        ax.legend(fontsize=8)

    return render_png(draw, (6.0, 4.0))


def _curve_plot(candidates: list[dict[str, Any]]) -> bytes:
    def draw(ax: Any) -> None:
        for record in candidates:
            curve = [p for p in record.get("curve") or [] if p.get("valid_loss") is not None]
            if curve:
                ax.plot([p["epoch"] for p in curve], [p["valid_loss"] for p in curve], marker="o",
                        label=record["name"])
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation loss per assistant token")
        ax.set_title("Fine-tuning trials")
        ax.legend(fontsize=7)

    return render_png(draw, (6.0, 4.0))


def _size_mb(folder: Path) -> float:
    if folder.is_file():
        return folder.stat().st_size / 2**20
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
