"""The served chat product (the task's `serving.app` hook): the OpenAI-compatible `POST /v1/chat/completions`
(mofang.tasks.llm.product)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from mofang.tasks.llm.product import llm_app


def app(bundle: Any, version: int | None, caller: Callable[..., Any], title: str, runtime: Any) -> FastAPI:
    """A chat product's API: POST /v1/chat/completions and GET /v1/models (no /feedback: a reply has no outcome
    column to correct)."""

    return llm_app(bundle, version, caller, title, runtime)
