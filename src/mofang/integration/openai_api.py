"""Routes an agent uses: GET /tool (OpenAI + MCP tool description) on every product, and for a retrieval
product the OpenAI-compatible GET /v1/models, POST /v1/chat/completions (the knowledge base's answer, streamed
or not, its source as a structured citation; no answer in the order's language) and POST /v1/embeddings (where
the knowledge base has a dense encoder; a plain 404 where it has none)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from mofang.integration.agent_tool import agent_tools
from mofang.integration.openai_wire import (
    DONE,
    STREAM_HEADERS,
    chunk,
    citation,
    embedding_data,
    error,
    model_list,
    refuse_tools,
)

MAX_EMBED_INPUTS = 256
MAX_EMBED_CHARS = 8_000
CHAT_ANSWERS = 3
NO_ANSWER = {"zh": "抱歉，知识库中没有与这个问题足够接近的答案。您可以换个说法再问，或联系人工客服。",
             "en": "Sorry, the knowledge base has no answer close enough to this question. Try asking it another "
                   "way, or contact a person."}
LANGUAGE_SAMPLE = 200  # knowledge-base answers read to tell a bundle's language when its metadata does not say


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "tool", "developer", "function"]
    content: str | list[dict[str, Any]] | None = Field(None)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text") or "") for p in self.content if isinstance(p, dict))
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, top_p, ... are accepted and have no effect
    model: str | None = None
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=200)
    stream: bool = False
    tools: list[Any] | None = None
    functions: list[Any] | None = None
    tool_choice: Any = None
    function_call: Any = None


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    input: str | list[str] = Field(..., description="A text or a list of texts")
    encoding_format: Literal["float", "base64"] = "float"


def tool_routes(app: FastAPI, bundle: Any, caller: Callable[..., Any]) -> None:
    """Add GET /tool, and the OpenAI-compatible routes of a retrieval product, to a product's app."""
    tools = agent_tools(bundle.schema, bundle.metadata)

    @app.get("/tool", dependencies=[Depends(caller)])
    def tool() -> dict[str, Any]:
        return tools

    if not bundle.is_retrieval:
        return
    product = str(bundle.metadata.get("product"))
    language = reply_language(bundle.metadata, bundle.candidate)
    created = int(time.time())

    @app.get("/v1/models", dependencies=[Depends(caller)])
    def models() -> dict[str, Any]:
        return model_list(product, bundle.metadata.get("tenant"), created)

    @app.post("/v1/chat/completions", dependencies=[Depends(caller)])
    def chat(request: ChatRequest) -> Response:
        refused = refuse_tools(request, "it answers from its knowledge base")
        if refused is not None:
            return refused
        question = next((m.text() for m in reversed(request.messages) if m.role == "user" and m.text().strip()), "")
        if not question.strip():
            return error(422, "messages: no user message with text to answer", param="messages")
        question = question.strip()[: bundle.schema.get("max_question_chars", 2000)]
        found = bundle.ask(question, CHAT_ANSWERS)
        content, citations = chat_answer(found, language)
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": product}
        if request.stream:
            return StreamingResponse(_stream(head, content, citations, found["no_answer"]),
                                     media_type="text/event-stream", headers=STREAM_HEADERS)
        return JSONResponse({
            **head, "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content, "citations": citations}}],
            "usage": {"prompt_tokens": len(question), "completion_tokens": len(content),
                      "total_tokens": len(question) + len(content)},
            "no_answer": found["no_answer"]})

    encoders = {name: r.encoder for name, r in bundle.candidate.retrievers_.items() if hasattr(r, "encoder")}
    embeddings_route(app, product, encoders, caller,
                     f"its ranking ({bundle.candidate.family}) uses no dense encoder")


def embeddings_route(app: FastAPI, product: str, encoders: dict[str, Any], caller: Callable[..., Any],
                     why_none: str) -> None:
    """POST /v1/embeddings over a product's dense encoders (name -> object with `encode(texts)`), the model named
    `<product>/<encoder>`, `<encoder>` or the product (its first encoder); without one, a 404 saying why."""

    @app.post("/v1/embeddings", dependencies=[Depends(caller)])
    def embeddings(request: EmbeddingRequest) -> Response:
        if not encoders:
            return error(404, f"product '{product}' does not embed text: {why_none}", param="model",
                         code="model_not_found")
        texts = [request.input] if isinstance(request.input, str) else list(request.input)
        if not texts or len(texts) > MAX_EMBED_INPUTS:
            return error(422, f"input: give 1 to {MAX_EMBED_INPUTS} texts", param="input")
        too_long = next((i for i, t in enumerate(texts) if len(t) > MAX_EMBED_CHARS), None)
        if too_long is not None:
            return error(422, f"input[{too_long}]: longer than {MAX_EMBED_CHARS:,} characters", param="input")
        wanted = (request.model or "").removeprefix(f"{product}/")
        name = wanted if wanted in encoders else next(iter(encoders))
        vectors = encoders[name].encode(texts)
        return JSONResponse({"object": "list", "model": f"{product}/{name}",
                             "data": embedding_data(vectors, request.encoding_format),
                             "usage": {"prompt_tokens": sum(map(len, texts)), "total_tokens": sum(map(len, texts))}})


def chat_answer(found: dict[str, Any], language: str = "zh") -> tuple[str, list[dict[str, Any]]]:
    """The assistant's reply and its citations: the best answer and where it comes from, or the no-answer
    reply in the product's language (no scores in the text: they are in the answer's fields)."""
    if found["no_answer"] or not found["answers"]:
        return NO_ANSWER.get(language, NO_ANSWER["en"]), []
    best = found["answers"][0]
    return str(best["answer"]), [citation(1, str(best["answer"]), best.get("source"), best.get("score"))]


def reply_language(metadata: dict[str, Any], model: Any) -> str:
    """The language a retrieval product answers in: its order's, as the bundle's metadata records it
    (`retrieval.language`), else told from the knowledge base's answers ("zh" or "en")."""
    known = (metadata.get("retrieval") or {}).get("language")
    if known:
        return str(known)
    kb = getattr(model, "kb", None)
    return text_language([str(a) for a in (getattr(kb, "answers", None) or [])[:LANGUAGE_SAMPLE]])


def text_language(texts: list[str]) -> str:
    """"zh" when most letters of `texts` are Chinese, else "en" (the replies Mofang writes are in one of both)."""
    from mofang.models.transformer.coverage import dominant_script

    return "zh" if dominant_script(texts)[1] == "zh" else "en"


def _stream(head: dict[str, Any], content: str, citations: list[dict[str, Any]],
            no_answer: bool) -> Iterator[bytes]:
    """The answer as chat.completion.chunk events: the role, the text, then the finish with the citations."""
    yield chunk(head, {"role": "assistant", "content": ""})
    yield chunk(head, {"content": content})
    yield chunk(head, {"citations": citations}, "stop", no_answer=no_answer)
    yield DONE
