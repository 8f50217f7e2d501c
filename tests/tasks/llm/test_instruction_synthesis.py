"""Instruction-pair synthesis through a real deterministic OpenAI-compatible server: ungrounded pairs dropped."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request

from mofang.core.errors import MofangError
from mofang.products.server import running_app
from mofang.tasks.llm.instructions.synthesis import parse_pairs, synthesize_pairs
from mofang.tasks.llm.models.endpoint import EndpointClient
from tests.openai_replies import completion

PASSAGES = [
    "依法成立的合同，自成立时生效。当事人应当按照约定全面履行自己的义务。",
    "高血压患者应当低盐饮食，并按照医嘱按时服用降压药物。",
]


def synthesis_app() -> FastAPI:
    """Per passage: a pair whose answer copies the passage's first sentence, a pair with an invented answer, and an
    item without an answer; a passage containing 坏 gets prose instead of JSON."""
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        passage = re.split(r"文本：\n|Text:\n", body["messages"][-1]["content"], maxsplit=1)[1]
        if "坏" in passage:
            content = "Sorry, here are some thoughts instead of JSON."
        else:
            first = re.split(r"[。.]", passage)[0]
            invented = "月亮是由奶酪做成的，每逢周二就会发光。"
            pairs = [{"question": f"关于「{passage[:6]}」的问题一？", "answer": first + "。"},
                     {"question": f"关于「{passage[:6]}」的问题二？", "answer": invented},
                     {"question": "没有答案的问题？"}]
            content = "好的：\n```json\n" + json.dumps(pairs, ensure_ascii=False) + "\n```"
        return completion(content)

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[EndpointClient]:
    with running_app(synthesis_app()) as url:
        yield EndpointClient(f"{url}/v1", timeout_s=10)


def test_grounded_pairs_kept_ungrounded_dropped(client: EndpointClient) -> None:
    frame = synthesize_pairs(client, PASSAGES, per_passage=2)
    assert {"prompt", "response", "source_passage"} <= set(frame.columns)
    assert frame["response"].tolist() == ["依法成立的合同，自成立时生效。",
                                          "高血压患者应当低盐饮食，并按照医嘱按时服用降压药物。"]
    assert frame["source_passage"].tolist() == PASSAGES
    assert all("问题一" in p for p in frame["prompt"])
    counts = frame.attrs["synthesis"]
    assert (counts["passages"], counts["asked"], counts["received"]) == (2, 4, 6)
    assert (counts["kept"], counts["dropped"], counts["ungrounded"], counts["malformed"]) == (2, 4, 2, 2)


def test_max_pairs_and_unparsed_reply(client: EndpointClient) -> None:
    frame = synthesize_pairs(client, ["这是一段坏的文本，模型不会给出JSON。", *PASSAGES, "  "], max_pairs=1)
    counts = frame.attrs["synthesis"]
    assert len(frame) == 1 and frame["source_passage"].iloc[0] == PASSAGES[0]
    assert counts["unparsed_replies"] == 1
    assert counts["passages"] == 2  # stopped asking once max_pairs were kept; the blank passage never asked


def test_english_passage(client: EndpointClient) -> None:
    passage = "The lease ends on the last day of the month. Rent is due in advance."
    frame = synthesize_pairs(client, [passage], language="en")
    assert frame["response"].tolist() == ["The lease ends on the last day of the month。"]


def test_bad_arguments(client: EndpointClient) -> None:
    with pytest.raises(MofangError, match="language"):
        synthesize_pairs(client, PASSAGES, language="fr")
    with pytest.raises(MofangError, match="no passages"):
        synthesize_pairs(client, ["", None])
    with pytest.raises(MofangError, match="at least 1"):
        synthesize_pairs(client, PASSAGES, per_passage=0)


def test_parse_pairs() -> None:
    assert parse_pairs('[{"question": "q", "answer": "a"}]') == [{"question": "q", "answer": "a"}]
    assert parse_pairs('答：{"question": "q", "answer": "a"} 完') == [{"question": "q", "answer": "a"}]
    assert parse_pairs("no json here") is None
