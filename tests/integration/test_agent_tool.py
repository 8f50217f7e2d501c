"""Agent tools: the OpenAI / MCP tool description of every product, and the OpenAI-compatible chat and
embeddings routes of a retrieval product (answers from the knowledge base with the source cited)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mofang.integration.agent_tool import agent_tools, tool_name
from mofang.integration.bundle import Bundle
from mofang.products.serving import create_app
from mofang.tasks.retrieval.models import QAColumns, RetrievalModel
from tests.tasks.retrieval.models.retrieval_fixtures import OUT_OF_DOMAIN, faq_frame

SCHEMA = {"task": "tabular-classification", "target": "是否违约", "classes": ["否", "是"],
          "features": [{"name": "年龄", "kind": "numeric"}, {"name": "城市", "kind": "categorical"},
                       {"name": "申请日期", "kind": "datetime"}, {"name": "有房", "kind": "boolean"}]}


def test_the_openai_tool_describes_the_rows_a_product_takes() -> None:
    tools = agent_tools(SCHEMA, {"product": "loan-default", "family": "lightgbm"})
    function = tools["openai"]["function"]
    assert tools["openai"]["type"] == "function" and function["name"] == "predict_loan-default"
    rows = function["parameters"]["properties"]["rows"]
    assert function["parameters"]["required"] == ["rows"] and rows["minItems"] == 1
    fields = rows["items"]["properties"]
    assert fields["年龄"]["type"] == ["number", "null"] and fields["申请日期"]["format"] == "date-time"
    assert fields["有房"]["type"] == ["boolean", "null"] and rows["items"]["additionalProperties"] is False
    mcp = tools["mcp"]
    assert mcp["inputSchema"] == function["parameters"] and mcp["annotations"]["readOnlyHint"] is True
    assert mcp["outputSchema"]["properties"]["predictions"]["items"]["enum"] == ["否", "是"]


def test_an_anomaly_detector_is_described_as_scoring_readings() -> None:
    schema = {"task": "anomaly-detection", "target": "anomaly",
              "features": [{"name": "Pressure", "kind": "numeric"}, {"name": "Temperature", "kind": "numeric"}]}
    tools = agent_tools(schema, {"product": "valve", "family": "anomaly"})
    assert tools["endpoint"] == {"method": "POST", "path": "/score"}
    assert set(tools["mcp"]["outputSchema"]["properties"]) == {"scores", "flags", "threshold"}
    assert "sensor readings" in tools["openai"]["function"]["description"]


@pytest.mark.parametrize("product", ["贷款违约", "churn model v2", "x" * 80])
def test_tool_names_are_valid_openai_function_names(product) -> None:
    import re

    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", tool_name(product)), tool_name(product)
    assert tool_name("贷款违约") != tool_name("信用评分")


def _faq_client(tuned: bool) -> TestClient:
    frame = faq_frame()
    columns = QAColumns(questions=("问题",), answer="答案", query="问法", sources=("部门",))
    model = RetrievalModel.from_pairs(frame.iloc[:7], columns, held_out=[frame.iloc[7:]], dense=("lsa",))
    if tuned:  # keeps only the retrievers its chosen ranking uses, and learns when to give no answer
        model.tune(frame.iloc[7:], OUT_OF_DOMAIN[:4], mask_self=False, target_precision=1.0)
    schema = {"task": "retrieval-qa", "target": "答案", "features": [], "question": "问题", "sources": ["部门"],
              "max_question_chars": 2000, "max_answers": 50}
    meta = {"product": "bank-faq", "task": "retrieval-qa", "target": "答案", "family": model.family,
            "candidate": model.family, "order_id": "bank-faq", "tenant": "bank"}
    return TestClient(create_app(Bundle(Path("."), model, schema, meta), version=1))


@pytest.fixture(scope="module")
def faq_client():
    with _faq_client(tuned=True) as client:
        yield client


def test_a_retrieval_product_answers_chat_completions_with_the_source(faq_client) -> None:
    tool = faq_client.get("/tool").json()
    assert tool["endpoint"]["path"] == "/ask" and "question" in tool["openai"]["function"]["parameters"]["required"]
    reply = faq_client.post("/v1/chat/completions", json={"model": "bank-faq", "temperature": 0, "messages": [
        {"role": "system", "content": "You answer bank questions."},
        {"role": "user", "content": "信用卡丢了怎么挂失"}]})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    message = body["choices"][0]["message"]
    assert body["object"] == "chat.completion" and message["role"] == "assistant"
    assert message["content"].startswith("请立即拨打客服热线挂失信用卡")
    assert "Source" not in message["content"] and "held_out" not in reply.text  # the source is a field, not text
    cited = message["citations"][0]
    assert cited["index"] == 1 and cited["source"]["部门"] == "信用卡" and cited["text"] == message["content"]
    assert body["no_answer"] is False
    off_topic = faq_client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "红烧肉做法"}]})
    refusal = off_topic.json()["choices"][0]["message"]
    assert off_topic.json()["no_answer"] is True and refusal["citations"] == []
    assert refusal["content"].startswith("抱歉，知识库中没有") and not any(c.isdigit() for c in refusal["content"])
    assert faq_client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "x"}]}
                           ).status_code == 422
    models = faq_client.get("/v1/models").json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["bank-faq"]


@pytest.mark.parametrize("field", ["tools", "functions", "tool_choice", "function_call"])
def test_a_retrieval_product_refuses_tools_naming_the_field(faq_client, field: str) -> None:
    value = {"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
             "functions": [{"name": "f", "parameters": {}}], "tool_choice": "required",
             "function_call": {"name": "f"}}[field]
    refused = faq_client.post("/v1/chat/completions", json={field: value, "messages": [
        {"role": "user", "content": "信用卡丢了怎么挂失"}]})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == field
    assert refused.json()["error"]["message"].startswith(f"{field}: this product cannot call tools")
    none = faq_client.post("/v1/chat/completions", json={"tool_choice": "none", "tools": [], "messages": [
        {"role": "user", "content": "信用卡丢了怎么挂失"}]})
    assert none.status_code == 200


def test_a_streamed_retrieval_answer_is_openai_chunks_with_citations(faq_client) -> None:
    import json

    with faq_client.stream("POST", "/v1/chat/completions", json={"stream": True, "messages": [
            {"role": "user", "content": "信用卡丢了怎么挂失"}]}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text.startswith("请立即拨打客服热线挂失信用卡") and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"][0]["delta"]["citations"][0]["source"]["部门"] == "信用卡"


def test_the_no_answer_reply_follows_the_language_of_the_knowledge_base() -> None:
    from mofang.integration.openai_api import chat_answer, reply_language

    found = {"no_answer": True, "answers": [], "confidence": 0.1, "threshold": 0.4}
    assert reply_language({"retrieval": {"language": "en"}}, None) == "en"
    english = type("Model", (), {"kb": type("KB", (), {"answers": ["Call the hotline to block the card."]})()})()
    assert reply_language({}, english) == "en" and chat_answer(found, "en")[0].startswith("Sorry")
    assert chat_answer(found, "zh")[0].startswith("抱歉") and "0.4" not in chat_answer(found, "zh")[0]


def test_a_retrieval_product_with_a_dense_encoder_serves_embeddings(faq_client) -> None:
    dense = "lsa" in faq_client.app.state.runtime.bundle.candidate.retrievers_
    without = faq_client.post("/v1/embeddings", json={"input": "x"})
    assert without.status_code == (200 if dense else 404)
    if not dense:
        assert "does not embed text" in without.json()["error"]["message"]
    with _faq_client(tuned=False) as client:
        _embeddings(client)


def _embeddings(faq_client: TestClient) -> None:
    reply = faq_client.post("/v1/embeddings", json={"model": "lsa", "input": ["信用卡丢了", "转账多久到账"]})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["object"] == "list" and [d["index"] for d in body["data"]] == [0, 1]
    vectors = [d["embedding"] for d in body["data"]]
    assert len(vectors[0]) == len(vectors[1]) > 1
    assert abs(sum(x * x for x in vectors[0]) - 1.0) < 1e-3  # unit vectors, as the index compares them
    one = faq_client.post("/v1/embeddings", json={"input": "信用卡丢了"}).json()
    assert one["data"][0]["embedding"] == pytest.approx(vectors[0], abs=1e-6)
    assert faq_client.post("/v1/embeddings", json={"input": []}).status_code == 422


def test_the_openai_client_embeds_through_a_served_product_with_a_dense_encoder() -> None:
    """The official client asks for base64 embeddings by default and decodes them: the same vectors as floats."""
    import openai

    from mofang.products.server import running_app

    with _faq_client(tuned=False) as local, running_app(local.app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=30)
        texts = ["信用卡丢了", "转账多久到账"]
        decoded = client.embeddings.create(model="bank-faq", input=texts)
        floats = client.embeddings.create(model="bank-faq/lsa", input=texts, encoding_format="float")
        assert decoded.model == floats.model == "bank-faq/lsa" and len(decoded.data) == 2
        for a, b in zip(decoded.data, floats.data, strict=True):
            assert a.embedding == pytest.approx(b.embedding, abs=1e-6) and len(a.embedding) > 1
