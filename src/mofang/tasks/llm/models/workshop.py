"""The model workshop's instruction-tuning processes: check the base model and plan the search (plan), fine-tune
each trial within its share of the budget (train), pick the trial with the lowest validation loss and merge its
adapter (select). The base model is a candidate too: the evaluation center compares it with the tuned one."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from mofang.core.errors import MofangError
from mofang.core.tasks import spec as task_spec
from mofang.models.transformer.chat_templates import supervised_ids
from mofang.tasks.llm.models.checkpoint import BaseCheckpoint, choose_method, open_base
from mofang.tasks.llm.models.conversations import conversations
from mofang.tasks.llm.models.sft import TrialConfig, merge_adapter, read_result, train_sft

DEFAULT_RATES = {"lora": [2e-4, 1e-4], "full": [5e-5, 2e-5]}
DEFAULT_METRIC = ("rouge_l", "higher")
EVAL_SHARE = 0.35  # of the time left at plan: generating answers with base and tuned models, packaging, delivery
MIN_RESERVE_S = 15.0
MIN_TRIAL_S = 5.0  # a later trial is not started with less time than this left


def rag_settings(order: Any) -> dict[str, Any] | None:
    """The RAG prompt settings rows are rendered with (None when the order has no `llm.rag`)."""
    llm = order.llm
    return {"k": llm.rag.k, "refusal_message": llm.refusal_message} if llm.rag is not None else None


def open_order_base(order: Any) -> BaseCheckpoint:
    llm = order.llm
    return open_base(order.base_model, template_override=llm.chat_template, max_seq_len=llm.max_seq_len)


def plan_llm(ctx: Any, dataset: dict[str, Any]) -> str:
    """Check the base model (before any training), choose full tuning or LoRA and list the trials."""

    order, llm = ctx.order, ctx.order.llm
    base = open_order_base(order)
    method, why_method = choose_method(llm.method, base.parameters)
    rates = llm.learning_rates or DEFAULT_RATES[method]
    ranks: list[int | None] = list(llm.lora_ranks) if method == "lora" else [None]
    grid = [TrialConfig(method, rank, rate, llm.epochs) for rate in rates for rank in ranks]
    if order.acceptance.metrics:
        metric = next(iter(order.acceptance.metrics))
        direction = task_spec("instruction-tuning").metrics[metric]
    else:
        metric, direction = DEFAULT_METRIC
    remaining = ctx.remaining_s()
    reserve = max(MIN_RESERVE_S, EVAL_SHARE * remaining)
    train_s = max(0.0, remaining - reserve)
    reasons = [f"base model {base.name}: {base.architecture}, {base.parameters / 1e6:.1f}M parameters, "
               f"{base.max_positions} positions, chat template "
               + ("from the order (llm.chat_template)" if llm.chat_template else "of its tokenizer"),
               why_method,
               f"{len(grid)} trials ({', '.join(c.name for c in grid)}), each up to {llm.epochs} epochs, batches "
               f"of {llm.batch_size} grouped by length; loss on the assistant's tokens only; the trial with the "
               "lowest validation loss is kept",
               f"{train_s:.0f}s for training of {remaining:.0f}s left ({reserve:.0f}s kept to generate and score "
               f"answers of base and tuned models, package and deliver); answers judged by {metric} "
               f"({direction} is better) on test"]
    for text in reasons:
        ctx.reason(text)
    plan = {"task": "instruction-tuning", "families": [c.name for c in grid], "primary_metric": metric,
            "direction": direction, "budget_s": round(ctx.budget_s, 2), "train_s": round(train_s, 2),
            "train_until_elapsed_s": round(ctx.elapsed_s() + train_s, 2), "reserve_s": round(reserve, 2),
            "method": method, "trials": [vars(c) for c in grid], "base": str(base.path),
            "base_name": base.name, "parameters": base.parameters, "max_positions": base.max_positions,
            "template": base.template, "reasons": reasons}
    ctx.param(families=plan["families"], primary_metric=metric, train_s=plan["train_s"], method=method)
    ctx.save("plan", plan)
    return f"{len(grid)} {method} trials on {base.name} ({base.parameters / 1e6:.1f}M parameters): {train_s:.0f}s"


def encode(base: BaseCheckpoint, frame: Any, order: Any) -> list[tuple[list[int], list[int]]]:
    """Token ids and labels of a split's conversations (the data workshop dropped those over llm.max_seq_len)."""
    out = []
    for index, messages in enumerate(conversations(frame, order.llm.system_prompt, rag=rag_settings(order))):
        ids, labels = supervised_ids(base.tokenizer, messages, base.template)
        if len(ids) > base.max_positions:
            raise MofangError(f"conversation {index + 1} has {len(ids)} tokens; {base.name} reads at most "
                              f"{base.max_positions}")
        out.append((ids, labels))
    return out


def train_llm(ctx: Any, plan: dict[str, Any], dataset: dict[str, Any]) -> str:
    """Run the trials in order, each within its share of the time left; a finished trial is kept on resume."""
    order = ctx.order
    base = open_order_base(order)
    train, valid = encode(base, ctx.load("train"), order), encode(base, ctx.load("valid"), order)
    if not valid:
        raise MofangError("no validation conversations: the data workshop kept too few rows to validate on")
    folder = ctx.path("models") / "llm"
    folder.mkdir(parents=True, exist_ok=True)
    grid = [TrialConfig(**t) for t in plan["trials"]]
    records: list[dict[str, Any]] = []
    base_loss: float | None = None
    trial_seconds: list[float] = []
    for index, config in enumerate(grid):
        trial_dir = folder / config.name
        done = read_result(trial_dir)
        if done is None:
            left = plan["train_until_elapsed_s"] - ctx.elapsed_s()
            share = left / (len(grid) - index)
            expected = max(trial_seconds) if trial_seconds else 0.0
            if index > 0 and (left < MIN_TRIAL_S or expected > left):
                ctx.reason(f"{config.name}: not started — {max(0.0, left):.0f}s left"
                           + (f", a trial took {expected:.0f}s" if expected else ""))
                continue
            deadline = time.monotonic() + max(share if index else max(share, MIN_TRIAL_S), 1.0)
            total_steps = math.ceil(len(train) / order.llm.batch_size) * config.epochs

            def on_step(step: int, planned: int, loss: float, name: str = config.name,
                        at: int = index, per: int = total_steps) -> None:
                ctx.advance(at * per + step, len(grid) * per,
                            note=f"{name} step {step}/{planned} · loss {loss:.3f}")

            result = train_sft(base.path, train, valid, config, folder=trial_dir,
                               pad_id=base.tokenizer.pad_token_id, batch_size=order.llm.batch_size,
                               deadline=deadline, seed=order.seed, on_step=on_step, tokenizer=base.tokenizer)
            done = result.as_dict()
            (trial_dir / "result.json").write_text(json.dumps(done, ensure_ascii=False, indent=1), "utf-8")
        trial_seconds.append(done["seconds"])
        if base_loss is None and done["curve"]:
            base_loss = done["curve"][0]["valid_loss"]
        note = (f"{config.name}: {done['steps']} steps in {done['seconds']:.1f}s ({done['tokens_per_s']:.0f} "
                f"tokens/s), {done['epochs_done']:g} epochs, best valid loss {done['valid_loss']:.4f} at epoch "
                f"{done['best_epoch']:g}" + (f" ({done['stopped']})" if done.get("stopped") else ""))
        ctx.reason(note)
        records.append({"name": config.name, "family": f"sft-{config.method}", "params": vars(config),
                        "valid_metrics": {"eval_loss": round(done["valid_loss"], 5)},
                        "fit_seconds": round(done["seconds"], 2), "trials": 1, "model_dir": done["folder"],
                        "adapter": config.method == "lora", "steps": done["steps"], "tokens": done["tokens"],
                        "tokens_per_s": done["tokens_per_s"], "steps_per_s": done["steps_per_s"],
                        "curve": done["curve"], "note": note, "size_mb": round(_size_mb(Path(done["folder"])), 3)})
    if not records:
        raise MofangError("no fine-tuning trial could run within the budget")
    base_record = {"name": "base", "family": "base", "params": {}, "fit_seconds": 0.0, "trials": 0,
                   "valid_metrics": {"eval_loss": base_loss}, "model_dir": plan["base"], "adapter": False,
                   "note": f"{plan['base_name']} as it is, before tuning (the comparison)",
                   "size_mb": round(_size_mb(Path(plan["base"])), 3)}
    records.insert(0, base_record)
    ctx.save("candidates", records)
    ctx.metric(**{f"{r['name']}_eval_loss": r["valid_metrics"]["eval_loss"] for r in records})
    return "; ".join(f"{r['name']} valid loss {r['valid_metrics']['eval_loss']:.4f}" for r in records)


def select_llm(ctx: Any, plan: dict[str, Any], candidates: list[dict[str, Any]]) -> str:
    """The tuned trial with the lowest validation loss; its LoRA adapter merged into the base (llm.merge)."""
    order, llm = ctx.order, ctx.order.llm
    tuned = [r for r in candidates if r["family"] != "base"]
    best = min(tuned, key=lambda r: r["valid_metrics"]["eval_loss"])
    base_loss = next(r for r in candidates if r["family"] == "base")["valid_metrics"]["eval_loss"]
    reason = (f"picked {best['name']}: lowest validation loss {best['valid_metrics']['eval_loss']:.4f} of "
              f"{len(tuned)} trials (base model {base_loss:.4f})")
    if base_loss is not None and best["valid_metrics"]["eval_loss"] >= base_loss:
        reason += "; tuning did not lower the validation loss below the base model's"
    model_dir, adapter = best["model_dir"], best["adapter"]
    if adapter and llm.merge:
        base = open_order_base(order)
        merged = merge_adapter(base.path, Path(model_dir), Path(model_dir).parent / "merged", base.tokenizer)
        model_dir, adapter = str(merged), False
        reason += "; LoRA adapter merged into the base weights"
    elif adapter:
        reason += "; LoRA adapter kept apart (llm.merge: false): the product loads it on the base checkpoint"
    ctx.reason(reason)
    winner = {"name": best["name"], "family": best["family"], "model_dir": model_dir, "adapter": adapter,
              "base_model_path": plan["base"], "chat_template": plan["template"], "system_prompt": llm.system_prompt,
              "max_positions": plan["max_positions"], "max_new_tokens": llm.max_new_tokens,
              "refusal_message": llm.refusal_message, "guardrails": llm.guardrails.model_dump(),
              "rag": None, "primary_metric": plan["primary_metric"], "direction": plan["direction"],
              "valid_score": best["valid_metrics"]["eval_loss"], "reason": reason,
              "model_path": model_dir}
    if llm.rag is not None and ctx.has("rag_retriever"):
        winner["rag"] = {"k": llm.rag.k, **ctx.load("rag_retriever")}
    ctx.metric(winner=best["name"], valid_score=winner["valid_score"])
    ctx.save("winner", winner)
    return reason


def _size_mb(folder: Path) -> float:
    if folder.is_file():
        return folder.stat().st_size / 2**20
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.suffix != ".pt") / 2**20
