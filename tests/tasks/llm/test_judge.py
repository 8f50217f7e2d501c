"""The OpenAI-compatible endpoint client and LLM-as-judge, against a real deterministic server run with uvicorn."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from mofang.core.errors import MofangError
from mofang.products.server import free_port, running_app
from mofang.tasks.llm.judge import judge_answers, parse_score
from mofang.tasks.llm.models.endpoint import EndpointClient, configured_endpoint
from tests.openai_replies import completion

_PROMPT = re.compile(r"参考答案 / Reference:\n(.*)\n\n模型回答 / Answer:\n(.*)\Z", re.DOTALL)


def judge_app(calls: dict[str, list]) -> FastAPI:
    """A judge that gives 5 (JSON) when the answer equals the reference, "1 分" (plain text) otherwise, and no score
    for an empty answer; plus failing routes counting their calls."""
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        calls["ok"].append({"body": body, "auth": request.headers.get("authorization")})
        user = body["messages"][-1]["content"]
        if user == "echo":
            return completion(f"model={body.get('model')} max_tokens={body['max_tokens']}")
        reference, answer = _PROMPT.search(user).groups()
        if not answer.strip():
            return completion("I cannot judge an empty answer.")
        if answer == reference:
            return completion('```json\n{"score": 5, "reason": "与参考答案一致"}\n```')
        return completion("评分：1 分（与参考答案不符）")

    @app.post("/fail/v1/chat/completions")
    def fail() -> JSONResponse:
        calls["fail"].append(1)
        return JSONResponse({"error": {"message": "model overloaded"}}, status_code=500)

    @app.post("/reject/v1/chat/completions")
    def reject() -> JSONResponse:
        calls["reject"].append(1)
        return JSONResponse({"detail": "unknown model 'nope'"}, status_code=400)

    @app.post("/garbled/v1/chat/completions")
    def garbled() -> PlainTextResponse:
        return PlainTextResponse("<html>proxy error</html>")

    @app.post("/empty/v1/chat/completions")
    def empty() -> dict[str, Any]:
        return {"choices": []}

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, dict[str, list]]]:
    calls: dict[str, list] = {"ok": [], "fail": [], "reject": []}
    with running_app(judge_app(calls)) as url:
        yield url, calls


def test_chat_sends_model_key_and_settings(server) -> None:
    url, calls = server
    client = EndpointClient(f"{url}/v1/", api_key="sk-test", model="judge-1", timeout_s=10)
    assert client.chat([{"role": "user", "content": "echo"}], max_tokens=7) == "model=judge-1 max_tokens=7"
    assert calls["ok"][-1]["auth"] == "Bearer sk-test"
    assert calls["ok"][-1]["body"]["temperature"] == 0.0
    anonymous = EndpointClient(f"{url}/v1")
    assert anonymous.chat([{"role": "user", "content": "echo"}]) == "model=None max_tokens=512"
    assert calls["ok"][-1]["auth"] is None
    with pytest.raises(MofangError, match="non-empty list"):
        client.chat([])


def test_http_500_retried_then_error(server) -> None:
    url, calls = server
    before = len(calls["fail"])
    client = EndpointClient(f"{url}/fail/v1", backoff_s=0.01)
    with pytest.raises(MofangError, match=r"/fail/v1/chat/completions: HTTP 500 after 3 tries: model overloaded"):
        client.chat([{"role": "user", "content": "hi"}])
    assert len(calls["fail"]) - before == 3  # the first try and 2 retries


def test_http_400_not_retried(server) -> None:
    url, calls = server
    before = len(calls["reject"])
    with pytest.raises(MofangError, match="HTTP 400: unknown model 'nope'"):
        EndpointClient(f"{url}/reject/v1", backoff_s=0.01).chat([{"role": "user", "content": "hi"}])
    assert len(calls["reject"]) - before == 1


def test_malformed_answers(server) -> None:
    url, _ = server
    with pytest.raises(MofangError, match="garbled/v1/chat/completions: the answer is not JSON"):
        EndpointClient(f"{url}/garbled/v1").chat([{"role": "user", "content": "hi"}])
    with pytest.raises(MofangError, match=r"no choices\[0\]\.message\.content"):
        EndpointClient(f"{url}/empty/v1").chat([{"role": "user", "content": "hi"}])


def test_connection_refused_names_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(MofangError, match=re.escape(f"{url}/chat/completions: cannot connect")) as caught:
        EndpointClient(url, retries=1, backoff_s=0.01).chat([{"role": "user", "content": "hi"}])
    assert "after 2 tries" in str(caught.value)


def test_bad_base_url() -> None:
    with pytest.raises(MofangError, match="must start with http"):
        EndpointClient("host:8000/v1")


def test_configured_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOFANG_LLM_ENDPOINT", raising=False)
    assert configured_endpoint() is None
    monkeypatch.setenv("MOFANG_LLM_ENDPOINT", "http://llm.example:8000/v1/")
    monkeypatch.setenv("MOFANG_LLM_API_KEY", "sk-1")
    monkeypatch.setenv("MOFANG_LLM_MODEL", "qwen")
    client = configured_endpoint()
    assert client is not None
    assert (client.url, client.api_key, client.model) == ("http://llm.example:8000/v1/chat/completions", "sk-1",
                                                          "qwen")


@pytest.mark.parametrize(("reply", "score"), [
    ('{"score": 4, "reason": "ok"}', 4), ('结果：```json\n{"score": "2", "reason": "少了"}\n```', 2),
    ("score 3/5", 3), ('{"score": 9} 但应为 5 分', 5), ("10 分", None), ("no idea", None), ("", None),
])
def test_parse_score(reply: str, score: int | None) -> None:
    assert parse_score(reply)[0] == score


def test_judge_answers(server) -> None:
    url, _ = server
    client = EndpointClient(f"{url}/v1", timeout_s=10)
    questions = ["合同何时生效？", "借款应何时返还？", "诉讼时效多久？", "第四题"]
    references = ["合同自成立时生效", "按照约定的期限返还", "三年", "不会被评"]
    answers = ["合同自成立时生效", "随时返还", "", "不会被评"]
    result = judge_answers(client, questions, references, answers, max_rows=3)
    assert [row["score"] for row in result["rows"]] == [5, 1, None]
    assert result["rows"][0]["reason"] == "与参考答案一致"
    assert (result["judged"], result["unparsed"]) == (2, 1)
    assert result["judge_score"] == pytest.approx((1.0 + 0.0) / 2)
    with pytest.raises(MofangError, match="as many"):
        judge_answers(client, questions, references[:2], answers)
    with pytest.raises(MofangError, match="no answers"):
        judge_answers(client, [], [], [])
