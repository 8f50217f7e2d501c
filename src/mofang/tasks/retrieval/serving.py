"""The served retrieval product: `POST /ask` answers one question from the knowledge base (there is no /predict).

(No `from __future__ import annotations` here: FastAPI must see the request model built at run time.)
"""

import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from mofang import __version__
from mofang.integration.bundle import MAX_ANSWERS, MAX_QUESTION_CHARS, Bundle
from mofang.products.serving import _common_routes


def app(bundle: Bundle, version: int | None, caller: Callable[..., Any], title: str, runtime: Any) -> FastAPI:
    """A retrieval product's API (the task's `serving.app` hook): POST /ask answers one question; GET /health and
    /metadata as for every product (with GET /v1/models, POST /v1/chat/completions and /v1/embeddings: see
    mofang.integration.openai_api). `runtime` audits the questions; `serving.create_app` adds /metrics and
    /drift (no /feedback: an answer has no outcome column to correct)."""
    meta = bundle.metadata
    api = FastAPI(title=f"Mofang product · {title}", version=__version__,
                  description=f"retrieval-qa knowledge base answering questions with `{meta['target']}` "
                              f"(ranking {meta.get('candidate')}, order {meta['order_id']}).")
    stats = {"requests": 0, "started": time.time()}

    class AskRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        question: Annotated[str, AfterValidator(_non_empty)] = Field(
            ..., min_length=1, max_length=MAX_QUESTION_CHARS, description="The question, as a user types it")
        k: int = Field(5, ge=1, le=MAX_ANSWERS, description="How many answers to return")

    _common_routes(api, bundle, version, caller, stats)
    api.state.runtime = runtime

    @api.post("/ask")
    def ask(request: AskRequest, identity: Any = Depends(caller)) -> dict[str, Any]:
        answer = bundle.ask(request.question.strip(), request.k)
        stats["requests"] += 1
        runtime.called(identity, "ask", 1, False)
        return {"product": meta["product"], "version": version, **answer}

    return api


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("the question is empty")
    return value
