"""Rows of the canonical instruction frame (system, history, prompt, response) as chat conversations.

The product's system prompt comes first; an example's own system text follows it. With RAG, the rows carry
the passages retrieved for their prompt (`PASSAGES`, JSON) and the user turn is the RAG prompt built from them,
exactly as the served product builds it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from mofang.models.transformer.chat_templates import Message
from mofang.tasks.llm.models.rag import rag_messages

PASSAGES = "__passages__"  # JSON list of retrieved passages ({"text", "source", "score"}) of a RAG row


def system_text(product_prompt: str, own: Any) -> str:
    own = "" if own is None or (isinstance(own, float) and own != own) else str(own).strip()
    return "\n\n".join(p for p in (product_prompt.strip(), own) if p)


def user_text(row: Mapping[str, Any], rag: dict[str, Any] | None = None) -> str:
    """The final user turn: the prompt, or with RAG the prompt with its numbered passages."""
    prompt = str(row.get("prompt") or "")
    if rag is None:
        return prompt

    passages = json.loads(row.get(PASSAGES) or "[]")
    messages = rag_messages(prompt, passages, system_prompt="", refusal_message=rag["refusal_message"])
    return next(m["content"] for m in reversed(messages) if m["role"] == "user")


def conversation(row: Mapping[str, Any], system_prompt: str = "", *, with_response: bool = True,
                 rag: dict[str, Any] | None = None) -> list[Message]:
    """One row as messages: system, the earlier turns, the prompt and (with_response) the reference reply."""
    messages: list[Message] = []
    system = system_text(system_prompt, row.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    history = row.get("history")
    if isinstance(history, str) and history.strip():
        messages += [{"role": str(m["role"]), "content": str(m["content"])} for m in json.loads(history)]
    messages.append({"role": "user", "content": user_text(row, rag)})
    if with_response:
        messages.append({"role": "assistant", "content": str(row.get("response") or "")})
    return messages


def conversations(frame: pd.DataFrame, system_prompt: str = "", *, with_response: bool = True,
                  rag: dict[str, Any] | None = None) -> list[list[Message]]:
    return [conversation(row, system_prompt, with_response=with_response, rag=rag)
            for row in frame.to_dict(orient="records")]
