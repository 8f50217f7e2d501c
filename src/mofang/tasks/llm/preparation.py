"""The data workshop's instruction-tuning steps: sources read as conversations (ingest), conversations too long
for the model dropped by tokens (validate), and the split with held-out copies removed from training, refusal
pairs for out-of-domain questions added to train, and the passages a RAG product retrieves attached (split).

The recipe's operators (normalize, dedupe, desensitize, quality) run in between on the canonical columns
(system, history, prompt, response), so personal data is masked before any training.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.ops import ROW
from mofang.data.split import split_rows
from mofang.models.transformer.chat_templates import render_ids
from mofang.tasks.llm.instructions.decontaminate import decontaminate
from mofang.tasks.llm.instructions.documents import pairs_from_documents
from mofang.tasks.llm.instructions.formats import to_instructions
from mofang.tasks.llm.instructions.lengths import filter_by_tokens
from mofang.tasks.llm.instructions.refusals import QUESTIONS, load_out_of_domain, split_out_of_domain
from mofang.tasks.llm.instructions.synthesis import synthesize_pairs
from mofang.tasks.llm.models.conversations import PASSAGES, conversation
from mofang.tasks.llm.models.endpoint import configured_endpoint
from mofang.tasks.llm.models.rag import retrieve
from mofang.tasks.llm.models.workshop import open_order_base
from mofang.tasks.llm.rag_source import open_retriever

CANONICAL = ("system", "history", "prompt", "response")
REFUSAL = "__refusal__"  # marks the refusal pairs added to train (never held out)


def read_conversations(ctx: Any, data: pd.DataFrame, reads: list[Any]) -> pd.DataFrame:
    """The sources as canonical conversation rows (alpaca, sharegpt, lawbench, a Q&A table or documents);
    optionally extended with pairs synthesized through the factory's endpoint."""
    order, llm = ctx.order, ctx.order.llm
    label = ", ".join(r.label for r in reads)
    documents = llm.format == "documents" or (llm.format == "auto" and {"path", "text"} <= set(data.columns)
                                               and "prompt" not in data.columns)
    if documents:
        frame = pairs_from_documents(data, template=llm.prompt_template)
        info: dict[str, Any] = {"format": "documents", "rows": len(frame)}
    else:
        prompt_column, template = None, llm.prompt_template
        if order.text_columns:
            prompt_column = order.text_columns[0]
            if len(order.text_columns) > 1 and template is None:
                template = "\n".join("{" + c + "}" for c in order.text_columns)
        frames, infos = [], []
        for part, where in _per_source(data, reads, label):  # errors name the file and its own row
            converted, part_info = to_instructions(part, label=where, fmt=llm.format, prompt_column=prompt_column,
                                                   response_column=order.target, template=template)
            frames.append(converted)
            infos.append(part_info)
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        info = infos[0] if len(infos) == 1 else {
            "format": ", ".join(sorted({str(i.get("format")) for i in infos})), "rows": len(frame),
            "dropped": sum(int(i.get("dropped") or 0) for i in infos), "sources": infos}
    ctx.reason(f"read as {info.get('format')} conversations: {len(frame):,} rows"
               + (f" ({_dropped_note(info)})" if info.get("dropped") else ""))
    if llm.synthesize:
        frame = _synthesize(ctx, frame)
    if frame.empty:
        raise DataError("no conversations with both a prompt and a response in the data", source=label)
    frame = frame[[*CANONICAL, *[c for c in frame.columns if c not in CANONICAL]]]
    ctx.save("conversation_info", json.loads(json.dumps(info, default=str)))
    return frame.reset_index(drop=True)


def _per_source(data: pd.DataFrame, reads: list[Any], label: str) -> list[tuple[pd.DataFrame, str]]:
    """The stacked data cut back into its sources (rows numbered from 1 in each), or whole when joined."""
    if len(reads) < 2 or sum(r.rows for r in reads) != len(data) or any(r.join for r in reads):
        return [(data, label)]
    parts, start = [], 0
    for read in reads:
        parts.append((data.iloc[start:start + read.rows].reset_index(drop=True), read.label))
        start += read.rows
    return parts


def _dropped_note(info: dict[str, Any]) -> str:
    dropped = info.get("dropped")
    if isinstance(dropped, dict):
        return "; ".join(f"{v} dropped: {k}" for k, v in dropped.items())
    return f"{dropped} dropped"


def _synthesize(ctx: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Up to llm.synthesize pairs grounded in the data's responses, through MOFANG_LLM_ENDPOINT (optional)."""
    client = configured_endpoint()
    if client is None:
        ctx.reason("llm.synthesize asked, but no endpoint is configured (MOFANG_LLM_ENDPOINT): nothing "
                   "synthesized; the order's own data is used")
        return frame
    passages = [t for t in frame["response"].tolist() if len(t) >= 20][: ctx.order.llm.synthesize]
    made = synthesize_pairs(client, passages, max_pairs=ctx.order.llm.synthesize)
    stats = made.attrs.get("synthesis", {})
    ctx.reason(f"synthesized {len(made):,} pairs through the configured endpoint ({stats})")
    made = made.assign(system="", history="")[["system", "history", "prompt", "response"]]
    return pd.concat([frame, made], ignore_index=True)


def choose_conversation_columns(ctx: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Drop conversations longer than llm.max_seq_len tokens (as the base model's template renders them)
    and record the canonical columns as the dataset's features."""
    llm = ctx.order.llm
    base = open_order_base(ctx.order)  # a missing checkpoint or template fails here, before any training

    def count(row: dict[str, Any]) -> int:
        return len(render_ids(base.tokenizer, conversation(row, llm.system_prompt), base.template,
                              generation_prompt=False))

    kept, info = filter_by_tokens(frame, count, llm.max_seq_len)
    if info.get("dropped"):
        ctx.reason(f"dropped {info['dropped']:,} conversations longer than llm.max_seq_len {llm.max_seq_len} "
                   f"tokens (as {base.name}'s chat template renders them)")
    if kept.empty:
        raise DataError(f"every conversation is longer than llm.max_seq_len {llm.max_seq_len} tokens; raise it "
                        f"(the model reads up to {base.max_positions}) or shorten the data")
    features = [{"name": c, "kind": "text"} for c in CANONICAL]
    ctx.save("features", {"features": features, "dropped": []})
    ctx.save("guard_trace", {"pii": [], "scores": {}})
    ctx.save("length_trace", json.loads(json.dumps(info, default=str)))
    ctx.metric(features=len(features), too_long=int(info.get("dropped", 0)))
    return kept.reset_index(drop=True)


def split_conversations(ctx: Any) -> str:
    """70/15/15 at random; train and valid rows copying a test prompt removed; refusal pairs added to train."""
    order, llm = ctx.order, ctx.order.llm
    frame = ctx.load("validated")
    parts = split_rows(pd.Series([0] * len(frame)), False, order.seed)
    columns = [ROW, *CANONICAL] if ROW in frame.columns else list(CANONICAL)
    chosen = {name: frame.iloc[rows][columns].reset_index(drop=True)
              for name, rows in (("train", parts.train), ("valid", parts.valid), ("test", parts.test))}
    leakage = {}
    for name in ("train", "valid"):
        chosen[name], found = decontaminate(chosen[name], chosen["test"])
        leakage[name] = json.loads(json.dumps(found, default=str))
        removed = int(found.get("exact", 0)) + int(found.get("near", 0))
        if removed:
            ctx.reason(f"removed {removed:,} {name} conversations whose prompt copies a test prompt (exact or "
                       "near duplicates): the evaluation would reward memorising them")
    train_ood, eval_ood = _out_of_domain(ctx)
    refusals = 0
    if llm.refusal_pairs and train_ood:
        from mofang.tasks.llm.instructions.refusals import refusal_pairs

        pairs = refusal_pairs(llm.refusal_message, count=llm.refusal_pairs, seed=order.seed, exclude=eval_ood,
                              questions=_question_bank(ctx))
        pairs = pairs[[c for c in columns if c in pairs.columns]].assign(**{REFUSAL: True})
        refusals = len(pairs)
        chosen["train"] = pd.concat([chosen["train"].assign(**{REFUSAL: False}), pairs], ignore_index=True)
        ctx.reason(f"added {refusals} refusal pairs to train: out-of-domain questions answered with the refusal "
                   f"message; {len(eval_ood)} other out-of-domain questions are kept for the refusal check")
    if llm.rag is not None:
        _attach_passages(ctx, chosen)
    sizes = {}
    for name, part in chosen.items():
        ctx.save(name, part)
        sizes[name] = len(part)
    ctx.save("out_of_domain", {"eval": eval_ood, "train": train_ood})
    how = "random (conversations are not stratified)"
    ctx.reason(f"split 70/15/15 {how} with seed {order.seed}")
    ctx.param(seed=order.seed, method=how, shares=[0.7, 0.15, 0.15])
    ctx.metric(**sizes, refusal_pairs=refusals)
    ctx.save("split_trace", {"method": how, "seed": order.seed, "rows": sizes, "rare_classes": {},
                             "synthetic": {"added_to_train": refusals, "dropped_parent_held_out": 0},
                             "leakage": leakage})
    return (f"train {sizes['train']:,} (with {refusals} refusal pairs) · valid {sizes['valid']:,} · "
            f"test {sizes['test']:,}")


def _question_bank(ctx: Any) -> list[str] | None:
    """The built-in out-of-domain questions plus the order's own (llm.out_of_domain); None: built-in only."""
    extra = ctx.order.llm.out_of_domain
    return [*QUESTIONS, *load_out_of_domain(extra)] if extra is not None else None


def _out_of_domain(ctx: Any) -> tuple[list[str], list[str]]:
    """Disjoint out-of-domain questions for refusal training and for the refusal check."""
    train, held = split_out_of_domain(ctx.order.seed, questions=_question_bank(ctx))
    return list(train), list(held)


def _attach_passages(ctx: Any, chosen: dict[str, pd.DataFrame]) -> None:
    """RAG: each conversation carries the passages the retrieval product finds for its prompt, so the model
    is trained and evaluated on the prompts it will be served."""
    rag = ctx.order.llm.rag
    retriever, info = open_retriever(ctx, rag.product)
    for part in chosen.values():
        part[PASSAGES] = [json.dumps(retrieve(retriever, str(p), rag.k), ensure_ascii=False, default=str)
                          for p in part["prompt"]]
    ctx.save("rag_retriever", info)
    ctx.reason(f"RAG: prompts answered from the top {rag.k} passages of {info['product']} v{info['version']} "
               "(attached to every split, as the product will retrieve them when served)")


def conversation_info(ctx: Any) -> dict[str, Any]:
    """What the dataset record says about an instruction-tuning dataset."""
    info = ctx.load("conversation_info") if ctx.has("conversation_info") else {}
    return {"format": info.get("format"), "out_of_domain": ctx.load("out_of_domain")["eval"],
            "lengths": ctx.load("length_trace") if ctx.has("length_trace") else {},
            "rag": ctx.load("rag_retriever") if ctx.has("rag_retriever") else None}
