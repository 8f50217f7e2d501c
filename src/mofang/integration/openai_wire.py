"""OpenAI's wire format, shared by every product that speaks it (a retrieval knowledge base, a chat model): the
model list, errors, request fields a product cannot honour, streamed chunks, citations and embeddings."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from fastapi.responses import JSONResponse
from pydantic import BaseModel

INTERNAL_SOURCE_KEYS = frozenset({"held_out"})  # how the factory split a row: never shown to a client
TOOL_FIELDS = ("tools", "functions", "tool_choice", "function_call")  # what a product without tool calls refuses
NO_TOOLS: tuple[Any, ...] = (None, "none", [], {})


def error(status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None,
          code: str | None = None, **extra: Any) -> JSONResponse:
    """An OpenAI-style error body, `{"error": {"message", "type", "param", "code", ...}}` (the official client
    raises it as BadRequestError, NotFoundError, ... with the message)."""
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code, **extra}},
                        status_code=status)


def refuse_tools(request: BaseModel, why: str) -> JSONResponse | None:
    """A 400 naming the first of `tools`, `functions`, `tool_choice`, `function_call` that `request` sets (a
    product that cannot call tools never drops them silently); None when it sets none. `why`: what the product
    does instead."""
    for name in TOOL_FIELDS:
        value = getattr(request, name, None)
        if value not in NO_TOOLS:
            return error(400, f"{name}: this product cannot call tools or functions ({why}); send the request "
                              f"without `{name}`", param=name, code="unsupported_parameter")
    return None


def model_list(name: str, owner: str | None, created: int) -> dict[str, Any]:
    """GET /v1/models: the product as OpenAI lists a model."""
    return {"object": "list", "data": [{"id": name, "object": "model", "created": created,
                                        "owned_by": owner or "mofang"}]}


def sse(data: dict[str, Any] | str) -> bytes:
    """One server-sent event: `data: <json>` (or `data: [DONE]`) and a blank line."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


def chunk(head: dict[str, Any], delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    """One `chat.completion.chunk` event (head: id, created, model)."""
    return sse({**head, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})


DONE = sse("[DONE]")
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def citation(index: int, text: str, source: Any, score: float | None = None) -> dict[str, Any]:
    """One structured citation: its number (as `[n]` in a generated answer), the passage, where it comes from
    (the knowledge base's source fields, internal ones left out) and its ranking score when known."""
    shown = ({k: v for k, v in source.items() if k not in INTERNAL_SOURCE_KEYS} if isinstance(source, dict)
             else source)
    return {"index": index, "text": text, "source": shown, **({"score": score} if score is not None else {})}


def embedding_data(vectors: Sequence[Any], encoding: str) -> list[dict[str, Any]]:
    """The `data` of an embeddings answer: float lists, or base64 of little-endian float32 (what the official
    client asks for by default and decodes)."""
    data = []
    for i, vector in enumerate(vectors):
        values = np.asarray(vector, dtype="<f4")
        shown: Any = (base64.b64encode(values.tobytes()).decode("ascii") if encoding == "base64"
                      else [float(x) for x in values])
        data.append({"object": "embedding", "index": i, "embedding": shown})
    return data
