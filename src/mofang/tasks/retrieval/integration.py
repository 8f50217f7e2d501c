"""The integration workshop for retrieval QA: how the knowledge base is asked in the bundle's metadata (the
`integration.metadata` hook) and a smoke test asking test questions (the `integration.smoke_test` override)."""

from __future__ import annotations

from typing import Any

from mofang.core.errors import MofangError
from mofang.integration.openai_api import LANGUAGE_SAMPLE, text_language
from mofang.integration.station import packaged_bundle
from mofang.tasks.retrieval.models import RetrievalModel

SMOKE_QUESTIONS = 16


def metadata(dataset: dict[str, Any], winner: dict[str, Any]) -> dict[str, Any]:
    """What a retrieval product's metadata adds (`retrieval`: how it is asked, what it returns and the language of
    its answers, which its replies without an answer use too)."""

    model = RetrievalModel.load(winner["model_path"])
    info = dataset["retrieval"]
    return {"retrieval": {
        "mode": info["mode"], "question": info["text"][0] if info["text"] else None,
        "indexed": info["text"][1:] or info["text"], "answer": dataset["target"], "sources": info["sources"],
        "passages": len(model.kb), "ranking": model.family,
        "no_answer_threshold": model.no_answer_.threshold if model.no_answer_ else None,
        "language": text_language([str(a) for a in model.kb.answers[:LANGUAGE_SAMPLE]])}}


def smoke_test(ctx: Any) -> str:
    """The packaged knowledge base, loaded the way the server loads it, answers test questions exactly like the
    trained one."""

    draft, bundle = packaged_bundle(ctx)
    trained = RetrievalModel.load(ctx.load("winner")["model_path"])
    questions = _questions(trained, ctx.load("test"), SMOKE_QUESTIONS)
    for question in questions:
        served, direct = bundle.ask(question, 5), trained.ask(question, 5)
        if [a["answer"] for a in served["answers"]] != [a["answer"] for a in direct["answers"]] \
                or served["no_answer"] != direct["no_answer"]:
            raise MofangError("the packaged knowledge base answers differently from the trained one")
    ctx.save("bundle", draft)
    return f"bundle loads and answers {len(questions)} test questions like the trained model"


def _questions(model: Any, test: Any, n: int) -> list[str]:
    """Up to `n` questions to ask: the test questions, else (documents) the start of the knowledge base's passages."""
    column = model.columns.query_column if model.columns is not None else None
    if column is not None and column in test.columns and len(test):
        return [str(q) for q in test[column] if q is not None and str(q).strip()][:n]
    return [text[:30] for text in model.kb.texts[:n]]


def tool(schema: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The agent tool of this kind of product (`integration.tool` hook): endpoint, request and answer schemas, and
    what it does."""
    return {"path": "/ask", "input": _tool_input(schema), "output": _tool_output(),
            "description": _tool_text(schema, meta)}


def _tool_input(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["question"], "properties": {
        "question": {"type": "string", "minLength": 1, "maxLength": schema.get("max_question_chars", 2000),
                     "description": "The question, as a user would type it"},
        "k": {"type": "integer", "minimum": 1, "maximum": schema.get("max_answers", 50), "default": 5,
              "description": "How many answers to return"}}}


def _tool_output() -> dict[str, Any]:
    return {"type": "object", "properties": {"answers": {"type": "array", "items": {"type": "object"}},
                                             "no_answer": {"type": "boolean"}}}


def _tool_text(schema: dict[str, Any], meta: dict[str, Any]) -> str:
    product, target = meta.get("product", "product"), schema.get("target")
    return (f"Ask the '{product}' knowledge base a question; returns the closest `{target}` passages with "
            f"their source and score, or no answer when none is close enough.")
