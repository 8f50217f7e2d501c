"""Routes an agent uses: GET /tool (OpenAI + MCP tool description) on every product, and for a retrieval
product the OpenAI-compatible POST /v1/chat/completions (answers from the knowledge base, source cited) and
POST /v1/embeddings (where the knowledge base has a dense encoder)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from mofang.integration.agent_tool import agent_tools

MAX_EMBED_INPUTS = 256
MAX_EMBED_CHARS = 8_000
CHAT_ANSWERS = 3


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | None = Field(None, max_length=100_000)


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, stream=false, ... are accepted and ignored
    model: str | None = None
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=200)
    stream: bool = False


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    input: str | list[str] = Field(..., description="A text or a list of texts")
    encoding_format: Literal["float"] = "float"


def tool_routes(app: FastAPI, bundle: Any, caller: Callable[..., Any]) -> None:
    """Add GET /tool, and the OpenAI-compatible routes of a retrieval product, to a product's app."""
    tools = agent_tools(bundle.schema, bundle.metadata)

    @app.get("/tool", dependencies=[Depends(caller)])
    def tool() -> dict[str, Any]:
        return tools

    if not bundle.is_retrieval:
        return
    product = str(bundle.metadata.get("product"))

    @app.post("/v1/chat/completions", dependencies=[Depends(caller)])
    def chat(request: ChatRequest) -> dict[str, Any]:
        if request.stream:
            raise HTTPException(400, "stream=true is not supported; ask without streaming")
        question = next((m.content for m in reversed(request.messages) if m.role == "user" and m.content), None)
        if not question or not question.strip():
            raise HTTPException(422, "messages: no user message with text to answer")
        question = question.strip()[: bundle.schema.get("max_question_chars", 2000)]
        found = bundle.ask(question, CHAT_ANSWERS)
        content = chat_answer(found)
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": product,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": content}}],
                "usage": {"prompt_tokens": len(question), "completion_tokens": len(content),
                          "total_tokens": len(question) + len(content)},
                "sources": [a["source"] for a in found["answers"]], "no_answer": found["no_answer"]}

    encoders = {name: r.encoder for name, r in bundle.candidate.retrievers_.items() if hasattr(r, "encoder")}
    if not encoders:
        return

    @app.post("/v1/embeddings", dependencies=[Depends(caller)])
    def embeddings(request: EmbeddingRequest) -> dict[str, Any]:
        texts = [request.input] if isinstance(request.input, str) else list(request.input)
        if not texts or len(texts) > MAX_EMBED_INPUTS:
            raise HTTPException(422, f"input: give 1 to {MAX_EMBED_INPUTS} texts")
        too_long = next((i for i, t in enumerate(texts) if len(t) > MAX_EMBED_CHARS), None)
        if too_long is not None:
            raise HTTPException(422, f"input[{too_long}]: longer than {MAX_EMBED_CHARS:,} characters")
        name = request.model if request.model in encoders else next(iter(encoders))
        vectors = encoders[name].encode(texts)
        return {"object": "list", "model": f"{product}/{name}",
                "data": [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]}
                         for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": sum(map(len, texts)), "total_tokens": sum(map(len, texts))}}


def chat_answer(found: dict[str, Any]) -> str:
    """The assistant's reply: the best answer with its source cited, or why there is none."""
    if found["no_answer"] or not found["answers"]:
        return ("The knowledge base has no answer close enough to this question "
                f"(confidence {found.get('confidence', 0):.3g}, threshold {found.get('threshold')}).")
    best = found["answers"][0]
    source = ", ".join(f"{k}: {v}" for k, v in best["source"].items()) or "the knowledge base"
    return f"{best['answer']}\n\nSource: {source}"
