"""The answer an OpenAI-compatible chat server gives, for the small real servers tests run as the factory's
configured endpoint (judge, synthesis): one choice holding `content`."""

from __future__ import annotations

from typing import Any


def completion(content: str) -> dict[str, Any]:
    return {"id": "x", "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]}
