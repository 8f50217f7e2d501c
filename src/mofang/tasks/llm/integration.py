"""The integration workshop for instruction tuning (the task's `integration.*` overrides): the merged checkpoint
(or the adapter) packaged with the RAG knowledge base, its system prompt and guardrails, no ONNX edge archive, and
a smoke test answering a test prompt like the trained model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mofang.core.errors import MofangError
from mofang.integration.edge_process import no_edge_bundle
from mofang.integration.model_card import model_card
from mofang.integration.station import packaged_bundle
from mofang.tasks.llm.models.chat import TOKENIZER_FILES, ChatModel
from mofang.tasks.llm.models.conversations import conversation
from mofang.tasks.llm.product import ADAPTER_FOLDER, MODEL_FOLDER, RETRIEVER_FILE, llm_schema

BUNDLE_FILES = ("model.joblib", "schema.json", "metadata.json", "model_card.md", "report.html")
CHECKPOINT_FILES = frozenset({"config.json", "generation_config.json", "model.safetensors.index.json",
                              "adapter_config.json"})
PROBE = "你好，请简单介绍一下你能帮我做什么。"
SMOKE_TOKENS = 16


def package(ctx: Any) -> str:
    """The package process for an instruction-tuned model: the merged checkpoint (or the
    adapter, the base staying on this host), the RAG retriever, schema, metadata, model card and report."""
    import joblib


    dataset, winner, evaluation = ctx.load("dataset"), ctx.load("winner"), ctx.load("evaluation")
    folder = ctx.path("bundle")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    keep = CHECKPOINT_FILES | set(TOKENIZER_FILES)
    source = Path(winner["model_dir"])
    if winner.get("adapter"):
        _copy_checkpoint(source, folder / ADAPTER_FOLDER, keep)
        spec = {"kind": "llm", "model": None, "adapter": ADAPTER_FOLDER, "base_model_path": winner["base_model_path"]}
    else:
        _copy_checkpoint(source, folder / MODEL_FOLDER, keep)
        spec = {"kind": "llm", "model": MODEL_FOLDER, "adapter": None, "base_model_path": None}
    joblib.dump(spec, folder / "model.joblib")
    rag = winner.get("rag")
    if rag:
        shutil.copyfile(rag["retriever_path"], folder / RETRIEVER_FILE)
    schema = llm_schema(winner)
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False, indent=2), "utf-8")
    meta = {"product": ctx.order.id, "tenant": ctx.tenant, "order_id": ctx.order.id, "job_id": ctx.job_id,
            "task": schema["task"], "target": None, "family": winner["family"], "candidate": winner["name"],
            "dataset_digest": dataset["digest"], "rows": dataset["rows"], "features": [], "dropped": [],
            "classes": None, "metrics": evaluation["metrics"], "base_metrics": evaluation.get("base_metrics"),
            "gate": evaluation["gate"],
            "verdict": evaluation["verdict"], "deployment": ctx.order.deployment.target,
            "reason": winner.get("reason", ""),
            "llm": {"base_model": winner.get("base_model_path"), "adapter_kept": bool(winner.get("adapter")),
                    "max_positions": winner["max_positions"], "max_new_tokens": winner["max_new_tokens"],
                    "rag": {k: rag[k] for k in ("k", "product", "version") if k in rag} if rag else None,
                    "guardrails": schema["guardrails"]}}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), "utf-8")
    (folder / "model_card.md").write_text(_card(meta, schema), "utf-8")
    shutil.copyfile(evaluation["report_path"], folder / "report.html")
    size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
    ctx.metric(bundle_mb=round(size_mb, 3))
    files = [*BUNDLE_FILES, spec["model"] or ADAPTER_FOLDER] + ([RETRIEVER_FILE] if rag else [])
    ctx.save("bundle_draft", {"path": str(folder), "files": files})
    return f"bundle of {len(files)} entries, {size_mb:.2f} MB" + (" (adapter on the host's base model)"
                                                                   if spec["adapter"] else "")


def _copy_checkpoint(source: Path, target: Path, keep: frozenset[str] | set[str]) -> None:
    """The weights, config and tokenizer files of a checkpoint folder (no optimizer or trainer state)."""
    if not source.is_dir():
        raise MofangError(f"the trained model folder {source} is missing")
    target.mkdir(parents=True)
    copied = 0
    for path in sorted(source.iterdir()):
        if path.is_file() and (path.name in keep or path.suffix == ".safetensors"):
            shutil.copyfile(path, target / path.name)
            copied += path.suffix == ".safetensors"
    if not copied:
        raise MofangError(f"{source} holds no safetensors weights to package")


def _card(meta: dict[str, Any], schema: dict[str, Any]) -> str:

    numeric = {k: v for k, v in (meta.get("metrics") or {}).items() if isinstance(v, int | float)}
    card = model_card({**meta, "metrics": numeric, "target": "the assistant's reply"})
    guard = schema["guardrails"]
    masked = [what for what, on in (("user input", guard["mask_input"]), ("replies", guard["mask_output"])) if on]
    base = meta.get("base_metrics") or {}
    shown = [k for k in ("rouge_l", "bleu", "f1", "choice_accuracy", "hallucination_rate", "refusal_rate",
                         "eval_loss", "judge_score") if numeric.get(k) is not None and base.get(k) is not None]
    if shown:
        card += ("\n## Base vs tuned (test prompts)\n\n| metric | base | tuned |\n|---|---|---|\n"
                 + "".join(f"| {k} | {base[k]:.4g} | {numeric[k]:.4g} |\n" for k in shown))
    return card + (
        "\n## Serving\n\nOpenAI-compatible `POST /v1/chat/completions` (`stream: true` for server-sent events) "
        f"and `GET /v1/models`. The product's system prompt always comes first; a client's system message is "
        f"added after it. Replies are at most {schema['max_new_tokens']} tokens by default; the model reads "
        f"{schema['max_positions']} positions.\n"
        + (f"\nPersonal data is masked in {' and '.join(masked)}.\n" if masked else "")
        + (f"\nAnswers come from the top {schema['rag']['k']} passages of the knowledge base, cited as [n] and "
           "returned as `sources`.\n" if schema["rag"] else ""))


def edge_bundle(ctx: Any) -> str:
    """A chat model is served (POST /v1/chat/completions); it has no ONNX edge archive."""
    why = "an instruction-tuned language model is served (POST /v1/chat/completions), not exported to ONNX"

    return no_edge_bundle(ctx, why)


def smoke_test(ctx: Any) -> str:
    """The packaged product, loaded the way the server loads it, answers a test prompt (greedy) exactly like the
    trained model folder."""

    draft, bundle = packaged_bundle(ctx)
    winner = ctx.load("winner")
    if winner.get("adapter"):
        trained = ChatModel.load(winner["base_model_path"], adapter=winner["model_dir"],
                                 chat_template=winner.get("chat_template"))
    else:
        trained = ChatModel.load(winner["model_dir"], chat_template=winner.get("chat_template"))
    messages = _probe(ctx, bundle.schema)
    served = bundle.candidate.chat.generate(messages, max_new_tokens=SMOKE_TOKENS)
    direct = trained.generate(messages, max_new_tokens=SMOKE_TOKENS)
    if served.text != direct.text:
        raise MofangError("the packaged model answers a test prompt differently from the trained one: "
                          f"{served.text[:60]!r} vs {direct.text[:60]!r}")
    ctx.save("bundle", draft)
    return f"bundle loads and answers a test prompt like the trained model ({served.completion_tokens} tokens)"


def _probe(ctx: Any, schema: dict[str, Any]) -> list[dict[str, str]]:
    """The first test conversation as the product renders it (without its reply), or a greeting."""

    rag = {"k": schema["rag"]["k"], "refusal_message": schema.get("refusal_message")} if schema.get("rag") else None
    try:
        test = ctx.load("test")
        if len(test):
            return conversation(test.iloc[0].to_dict(), schema.get("system_prompt") or "", with_response=False,
                                rag=rag)
    except (FileNotFoundError, KeyError, AttributeError, TypeError, ValueError):
        pass
    head = [{"role": "system", "content": schema["system_prompt"]}] if schema.get("system_prompt") else []
    return [*head, {"role": "user", "content": PROBE}]


def tool(schema: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The agent tool of this kind of product (`integration.tool` hook): endpoint, request and answer schemas, and
    what it does."""
    return {"path": "/v1/chat/completions", "input": _tool_input(schema), "output": _tool_output(),
            "description": _tool_text(schema, meta)}


def _tool_input(schema: dict[str, Any]) -> dict[str, Any]:
    message = {"type": "object", "required": ["role", "content"], "properties": {
        "role": {"type": "string", "enum": ["system", "user", "assistant"]}, "content": {"type": "string"}}}
    return {"type": "object", "required": ["messages"], "properties": {
        "messages": {"type": "array", "items": message, "minItems": 1,
                     "description": "The conversation; the last message is the user's question"},
        "max_tokens": {"type": "integer", "minimum": 1, "maximum": schema.get("max_new_tokens", 256)},
        "stream": {"type": "boolean", "default": False}}}


def _tool_output() -> dict[str, Any]:
    return {"type": "object", "properties": {"choices": {"type": "array", "items": {"type": "object"}},
                                             "usage": {"type": "object"},
                                             "sources": {"type": "array", "items": {"type": "object"}}}}


def _tool_text(schema: dict[str, Any], meta: dict[str, Any]) -> str:
    product = meta.get("product", "product")
    grounded = " answers from its knowledge base with the sources cited," if schema.get("rag") else ""
    return (f"Ask the Mofang assistant '{product}' (a model tuned on the customer's domain) a question in a "
            f"chat;{grounded} it declines questions outside its domain and masks personal data.")
