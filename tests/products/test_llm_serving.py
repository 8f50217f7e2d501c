"""The served instruction-tuning product on a real uvicorn server: OpenAI-compatible chat completions, streamed
and not, under the product's system prompt, PII masked on the way in and out, too-long prompts and bad
requests refused, and a RAG bundle citing its sources."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import joblib
import pytest

from mofang.integration.bundle import Bundle, load_bundle
from mofang.products.guardrails import mask_pii
from mofang.products.server import running_app
from mofang.products.serving import create_app
from mofang.tasks.llm.models.rag import rag_messages, retrieve
from mofang.tasks.llm.product import llm_schema
from mofang.tasks.retrieval.models import QAColumns, RetrievalModel
from tests.models.test_transformer_coverage import qwen_tokenizer_dir
from tests.tasks.llm.models.test_llm_chat import overfit_checkpoint
from tests.tasks.retrieval.models.retrieval_fixtures import OUT_OF_DOMAIN, faq_frame

SYSTEM = "你是律所的客服助手。"
REFUSAL = "抱歉，资料中没有这个问题的答案。"
ASK = [{"role": "user", "content": "我的联系方式是什么？"}]
PII_REPLY = "您的手机号是13812345678，身份证号是11010519491231002X。"
QUESTION = "信用卡丢了怎么挂失"
RAG_REPLY = "请立即拨打客服热线挂失信用卡[1]。"
COLUMNS = QAColumns(questions=("问题",), answer="答案", query="问法", sources=("部门",))
CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def retriever() -> RetrievalModel:
    frame = faq_frame()
    model = RetrievalModel.from_pairs(frame.iloc[:7], COLUMNS, held_out=[frame.iloc[7:]], dense=())
    model.tune(frame.iloc[7:], OUT_OF_DOMAIN[:4], mask_self=False, target_precision=1.0)
    return model


@pytest.fixture(scope="module")
def checkpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
               retriever: RetrievalModel) -> Path:
    """A tiny model taught two replies: one holding a mobile and an ID number, one citing passage [1] of the
    RAG prompt the product builds for QUESTION."""
    system = {"role": "system", "content": SYSTEM}
    rag = rag_messages(QUESTION, retrieve(retriever, QUESTION, 2), system_prompt=SYSTEM, refusal_message=REFUSAL)
    taught = [[system, *ASK, {"role": "assistant", "content": PII_REPLY}],
              [*rag, {"role": "assistant", "content": RAG_REPLY}]]
    return overfit_checkpoint(tmp_path_factory.mktemp("served-llm"), qwen_tokenizer_dir(request), taught)


def write_bundle(folder: Path, checkpoint: Path, retriever: RetrievalModel | None = None) -> Path:
    """A bundle laid out as package_llm writes it: model/, model.joblib, schema.json, metadata.json."""
    shutil.copytree(checkpoint, folder / "model")
    joblib.dump({"kind": "llm", "model": "model", "adapter": None, "base_model_path": None}, folder / "model.joblib")
    winner = {"system_prompt": SYSTEM, "chat_template": None, "max_positions": 512, "max_new_tokens": 64,
              "refusal_message": REFUSAL, "guardrails": {"mask_input": True, "mask_output": True},
              "rag": {"k": 2, "retriever_path": "unused"} if retriever is not None else None}
    if retriever is not None:
        retriever.save(folder / "retriever.joblib")
    (folder / "schema.json").write_text(json.dumps(llm_schema(winner), ensure_ascii=False), "utf-8")
    meta = {"product": "legal-chat", "tenant": "acme", "order_id": "legal-chat", "job_id": "job-1",
            "task": "instruction-tuning", "target": None, "family": "qwen2-tiny", "candidate": "lora-r8"}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    return folder


@pytest.fixture(scope="module")
def served(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Bundle]]:
    bundle = load_bundle(write_bundle(tmp_path_factory.mktemp("bundle"), checkpoint))
    with running_app(create_app(bundle)) as url:
        yield url, bundle


@pytest.fixture(scope="module")
def served_rag(checkpoint: Path, retriever: RetrievalModel,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Bundle]]:
    bundle = load_bundle(write_bundle(tmp_path_factory.mktemp("rag-bundle"), checkpoint, retriever))
    with running_app(create_app(bundle)) as url:
        yield url, bundle


def events(url: str, body: dict[str, Any]) -> tuple[httpx.Response, list[Any]]:
    """POST with stream=true; the parsed `data:` events in order ("[DONE]" kept as text)."""
    found: list[Any] = []
    with httpx.stream("POST", url + CHAT, json={**body, "stream": True}, timeout=60) as response:
        if response.status_code != 200:
            response.read()
            return response, found
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line[len("data: "):]
                found.append(data if data == "[DONE]" else json.loads(data))
    return response, found


def streamed_text(found: list[Any]) -> str:
    return "".join(e["choices"][0]["delta"].get("content", "") for e in found[:-1] if e["choices"])


class Spy:
    """Records the conversations the served model renders (what it reads)."""

    def __init__(self, chat: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[list[dict[str, str]]] = []
        original = chat.prompt_ids

        def prompt_ids(messages: Any) -> list[int]:
            self.seen.append([dict(m) for m in messages])
            return original(messages)

        monkeypatch.setattr(chat, "prompt_ids", prompt_ids)


def test_replies_streamed_and_not_agree_and_mask_the_personal_data_the_model_says(served) -> None:
    url, bundle = served
    answer = httpx.post(url + CHAT, json={"model": "legal-chat", "messages": ASK}, timeout=60).json()
    content = answer["choices"][0]["message"]["content"]
    assert answer["object"] == "chat.completion" and answer["model"] == "legal-chat"
    masked = "您的手机号是138****5678，身份证号是110***********002X。"
    assert content == mask_pii(PII_REPLY, generated=True)[0] == masked
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["guardrails"] == {"input_masked": [], "output_masked": ["mobile", "id_card"]}
    chat = bundle.candidate.chat
    generated = len(chat.tokenizer.encode(PII_REPLY, add_special_tokens=False)) + 1  # and the end of turn
    prompt = chat.count_tokens([{"role": "system", "content": SYSTEM}, *ASK])
    assert answer["usage"] == {"prompt_tokens": prompt, "completion_tokens": generated,
                               "total_tokens": prompt + generated}

    response, found = events(url, {"messages": ASK, "stream_options": {"include_usage": True}})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert found[0]["object"] == "chat.completion.chunk" and found[0]["choices"][0]["delta"]["role"] == "assistant"
    assert found[-1] == "[DONE]" and found[-2]["usage"] == answer["usage"] and found[-2]["choices"] == []
    assert found[-3]["choices"][0]["finish_reason"] == "stop"
    assert streamed_text(found) == content
    assert all("13812345678" not in e["choices"][0]["delta"].get("content", "") for e in found[:-2])
    assert len(found) > 5  # streamed in pieces


def test_the_product_system_prompt_comes_first_and_a_client_system_message_follows(served, monkeypatch) -> None:
    url, bundle = served
    chat = bundle.candidate.chat
    spy = Spy(chat, monkeypatch)
    plain = httpx.post(url + CHAT, json={"messages": ASK, "max_tokens": 4}, timeout=60).json()
    assert plain["usage"]["prompt_tokens"] == chat.count_tokens([{"role": "system", "content": SYSTEM}, *ASK])
    assert plain["usage"]["prompt_tokens"] > chat.count_tokens(ASK) + len(chat.tokenizer.encode(SYSTEM)) - 1
    assert plain["usage"]["completion_tokens"] == 4 and plain["choices"][0]["finish_reason"] == "length"
    extra = [{"role": "system", "content": "请用一句话回答。"}, *ASK]
    added = httpx.post(url + CHAT, json={"messages": extra, "max_tokens": 4}, timeout=60).json()
    expected = [{"role": "system", "content": f"{SYSTEM}\n\n请用一句话回答。"}, *ASK]
    assert spy.seen[-1] == expected and spy.seen[0] == [{"role": "system", "content": SYSTEM}, *ASK]
    assert added["usage"]["prompt_tokens"] == chat.count_tokens(expected)


def test_personal_data_in_the_user_message_is_masked_before_the_model_reads_it(served, monkeypatch) -> None:
    url, bundle = served
    chat = bundle.candidate.chat
    spy = Spy(chat, monkeypatch)
    raw = "我叫张伟，手机13912345678，身份证11010519491231002X，帮我看看合同。"
    masked = mask_pii(raw)[0]
    assert "13912345678" not in masked and "139****5678" in masked
    answer = httpx.post(url + CHAT, json={"messages": [{"role": "user", "content": raw}], "max_tokens": 4},
                        timeout=60).json()
    assert spy.seen == [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": masked}]]
    read = chat.count_tokens(spy.seen[0])
    assert answer["usage"]["prompt_tokens"] == read
    assert read != chat.count_tokens([{"role": "system", "content": SYSTEM}, {"role": "user", "content": raw}])
    assert answer["guardrails"]["input_masked"] == ["person_name", "mobile", "id_card"]


def test_a_prompt_longer_than_the_model_reads_gets_400_with_the_counts(served) -> None:
    url, bundle = served
    long = [{"role": "user", "content": "合同纠纷，违约金，起诉，律师，判决，执行，证据，仲裁，调解，赔偿，" * 30}]
    tokens = bundle.candidate.chat.count_tokens([{"role": "system", "content": SYSTEM}, *long])
    assert tokens > 511
    response = httpx.post(url + CHAT, json={"messages": long}, timeout=60)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["prompt_tokens"] == tokens
    assert error["max_prompt_tokens"] == 511 and f"prompt of {tokens} tokens" in error["message"]
    streamed, found = events(url, {"messages": long})
    assert streamed.status_code == 400 and found == []


@pytest.mark.parametrize("body", [
    {"messages": []},
    {"messages": [{"role": "tool", "content": "x"}]},
    {"messages": [{"role": "user"}]},
    {"messages": ASK, "temperature": 5},
    {"messages": ASK, "n": 2},
    {"messages": ASK, "max_tokens": 0},
    {"messages": [*ASK, {"role": "assistant", "content": "好的"}]},  # nothing for the assistant to answer
])
def test_bad_requests_get_422(served, body) -> None:
    url, _ = served
    assert httpx.post(url + CHAT, json=body, timeout=60).status_code == 422


def test_models_health_and_metadata(served) -> None:
    url, _ = served
    models = httpx.get(url + "/v1/models", timeout=10).json()
    assert models["object"] == "list" and [m["id"] for m in models["data"]] == ["legal-chat"]
    assert httpx.get(url + "/health", timeout=10).json()["status"] == "ok"
    meta = httpx.get(url + "/metadata", timeout=10).json()
    assert meta["schema"]["task"] == "instruction-tuning" and meta["schema"]["system_prompt"] == SYSTEM


def test_a_rag_product_answers_from_its_passages_with_sources_or_refuses(served_rag, retriever) -> None:
    url, _ = served_rag
    answer = httpx.post(url + CHAT, json={"messages": [{"role": "user", "content": QUESTION}]}, timeout=60).json()
    assert answer["choices"][0]["message"]["content"] == RAG_REPLY and answer["no_answer"] is False
    first = retrieve(retriever, QUESTION, 2)[0]
    assert answer["sources"] == [{"index": 1, "source": {"row": "r1", "部门": "信用卡"}, "text": first["text"]}]
    assert first["text"].startswith("请立即拨打客服热线挂失信用卡")
    cited = answer["choices"][0]["message"]["citations"]
    assert cited == [{"index": 1, "text": first["text"], "source": {"row": "r1", "部门": "信用卡"}}]
    _, found = events(url, {"messages": [{"role": "user", "content": QUESTION}]})
    assert streamed_text(found) == RAG_REPLY and found[-2]["sources"] == answer["sources"]
    assert found[-2]["choices"][0]["delta"]["citations"] == cited

    refused = httpx.post(url + CHAT, json={"messages": [{"role": "user", "content": OUT_OF_DOMAIN[1]}]},
                         timeout=60).json()
    assert refused["choices"][0]["message"]["content"] == REFUSAL
    assert refused["no_answer"] is True and refused["sources"] == []
    _, found = events(url, {"messages": [{"role": "user", "content": OUT_OF_DOMAIN[1]}]})
    assert streamed_text(found) == REFUSAL and found[-1] == "[DONE]"


def test_the_official_openai_client_streams_masked_replies_and_is_refused_tools(served) -> None:
    import openai

    url, _ = served
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=60)
    assert [m.id for m in client.models.list()] == ["legal-chat"]
    chunks = list(client.chat.completions.create(model="legal-chat", messages=ASK, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == mask_pii(PII_REPLY, generated=True)[0] and "13812345678" not in text
    for field, value in (("tools", [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]),
                         ("functions", [{"name": "lookup", "parameters": {}}])):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="legal-chat", messages=ASK, **{field: value})
        assert refused.value.body["param"] == field and refused.value.message.startswith("Error code: 400 - ")
        assert f"{field}: this product cannot call tools" in refused.value.message
    with pytest.raises(openai.NotFoundError, match="does not embed text"):
        client.embeddings.create(model="legal-chat", input="合同")


@pytest.mark.parametrize("text", [
    "您的手机号是13812345678，身份证号是11010519491231002X。",
    "身份证11010519491231002X手机13812345678",
    "请拨打 138 1234 5678 联系我，卡号 6222 0212 3456 7890 128 已冻结",
    "身份证号是110105194912310021，请核对",  # a wrong check digit: a generated number of that shape is masked too
])
def test_a_streamed_reply_is_masked_exactly_like_the_whole_reply(text: str) -> None:
    from mofang.products.guardrails import StreamMasker

    whole, kinds = mask_pii(text, generated=True)
    assert whole != text
    for cut in range(len(text) + 1):
        for second in (cut, min(len(text), cut + 5)):
            masker = StreamMasker()
            out = masker.feed(text[:cut]) + masker.feed(text[cut:second]) + masker.feed(text[second:])
            assert out + masker.flush() == whole, (cut, second)
    masker, sent = StreamMasker(), ""
    for character in text:  # one character at a time: what is sent is always final
        sent += masker.feed(character)
        assert whole.startswith(sent)
    assert sent + masker.flush() == whole and masker.kinds == kinds


def test_generated_text_masks_an_id_number_of_the_right_shape_whatever_its_check_digit() -> None:
    wrong = "110105194912310021"  # region, birth date and sequence of an ID; its check digit should be X
    assert mask_pii(f"身份证号{wrong}")[0] == f"身份证号{wrong}"  # what a person typed: checksums decide
    masked, kinds = mask_pii(f"身份证号{wrong}", generated=True)  # what a model said: the shape decides
    assert masked == "身份证号110***********0021" and kinds == ["id_card"]
    assert mask_pii("订单号20240101123456789012", generated=True)[1] == []  # no ID shape: no mask


def test_rag_prompts_number_their_passages_and_citations_are_read_back() -> None:
    from mofang.tasks.llm.models.rag import citations

    passages = [{"text": "挂失请拨打客服热线。", "source": {"部门": "信用卡"}},
                {"text": "补卡需携带身份证。", "source": "faq.md"}]
    messages = rag_messages("卡丢了怎么办", passages, system_prompt=SYSTEM, refusal_message=REFUSAL,
                            history=[{"role": "user", "content": "你好"}, {"role": "assistant", "content": "您好"}])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    asked = messages[-1]["content"]
    assert "[1] 挂失请拨打客服热线。（来源：部门: 信用卡）" in asked
    assert "[2] 补卡需携带身份证。（来源：faq.md）" in asked
    assert REFUSAL in asked and asked.endswith("问题：卡丢了怎么办")
    cited = citations("先挂失【2】，再补卡[1, 2]，见[7]。", passages)
    assert [c["index"] for c in cited] == [2, 1] and cited[0] == {"index": 2, "source": "faq.md",
                                                                  "text": "补卡需携带身份证。"}
    assert citations("没有引用。", passages) == []


@pytest.mark.parametrize("keep_adapter", [False, True])
def test_the_integration_workshop_packages_and_smoke_tests_the_bundle(make_ctx, checkpoint, tmp_path,
                                                                      keep_adapter: bool) -> None:
    import pandas as pd

    from mofang.core.errors import MofangError
    from mofang.integration.station import IntegrationWorkshop
    from mofang.orders.schema import Order

    order = Order.model_validate({"id": "legal-chat", "tenant": "acme", "task": "instruction-tuning",
                                  "data": [{"path": "x.jsonl"}], "base_model": str(checkpoint),
                                  "llm": {"system_prompt": SYSTEM, "refusal_message": REFUSAL}})
    ctx = make_ctx(order, station="integration")
    model_dir = checkpoint
    if keep_adapter:  # a LoRA adapter kept apart: the bundle holds it, the base stays on this host
        import peft
        import torch
        from transformers import AutoModelForCausalLM

        torch.manual_seed(2)
        config = peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
                                 init_lora_weights=False)
        model_dir = tmp_path / "adapter"
        peft.get_peft_model(AutoModelForCausalLM.from_pretrained(str(checkpoint)), config).save_pretrained(
            str(model_dir))
        (model_dir / "optimizer.pt").write_bytes(b"not packaged")
    (tmp_path / "report.html").write_text("<html>report</html>", "utf-8")
    ctx.save("dataset", {"task": "instruction-tuning", "target": None, "digest": "d" * 64,
                         "rows": {"train": 2, "valid": 1, "test": 1}, "features": []})
    ctx.save("winner", {"name": "lora-r4", "family": "lora", "model_dir": str(model_dir), "adapter": keep_adapter,
                        "base_model_path": str(checkpoint), "chat_template": "chatml", "system_prompt": SYSTEM,
                        "max_positions": 512, "max_new_tokens": 64, "refusal_message": REFUSAL,
                        "guardrails": {"mask_input": True, "mask_output": False}, "rag": None,
                        "primary_metric": "rouge_l", "direction": "higher", "valid_score": 0.1, "reason": "best"})
    ctx.save("evaluation", {"metrics": {"rouge_l": 0.9, "base_vs_tuned": {"rouge_l": [0.1, 0.9]}},
                            "gate": {"passed": True, "checks": []}, "verdict": "accepted",
                            "report_path": str(tmp_path / "report.html")})
    ctx.save("test", pd.DataFrame({"system": [None], "history": [None], "prompt": [ASK[0]["content"]],
                                   "response": [PII_REPLY]}))
    station = IntegrationWorkshop()
    def process(name: str) -> str:  # the instruction-tuning task's own processes (its overrides), as the line runs them
        return station.process_for(name, ctx.order)(ctx) or ""

    process("package")
    assert process("edge_bundle").startswith("skipped: an instruction-tuned language model is served")
    assert "bundle loads and answers a test prompt like the trained model" in process("smoke_test")
    folder = Path(ctx.load("bundle")["path"])
    spec = joblib.load(folder / "model.joblib")
    if keep_adapter:
        assert spec == {"kind": "llm", "model": None, "adapter": "adapter", "base_model_path": str(checkpoint)}
        assert not (folder / "model").exists() and not (folder / "adapter" / "optimizer.pt").exists()
    else:
        assert spec["model"] == "model" and (folder / "model" / "model.safetensors").is_file()
        assert (folder / "model" / "tokenizer.json").is_file()
    schema = json.loads((folder / "schema.json").read_text("utf-8"))
    assert schema["task"] == "instruction-tuning" and schema["guardrails"] == {"mask_input": True,
                                                                               "mask_output": False}
    assert "/v1/chat/completions" in (folder / "model_card.md").read_text("utf-8")
    bundle = load_bundle(folder)
    reply = bundle.candidate.chat.generate([{"role": "system", "content": SYSTEM}, *ASK], max_new_tokens=40)
    if not keep_adapter:
        assert reply.text == PII_REPLY  # unmasked: this order masks input only
    with running_app(create_app(bundle)) as url:
        answer = httpx.post(url + CHAT, json={"messages": ASK, "max_tokens": 40}, timeout=60).json()
    assert answer["choices"][0]["message"]["content"] == reply.text
    ctx.order.deployment.target = "edge"
    with pytest.raises(MofangError, match="not exported to ONNX"):
        station.process_for("edge_bundle", ctx.order)(ctx)


def test_an_encrypted_bundle_is_served_from_memory(checkpoint, retriever, tmp_path, monkeypatch) -> None:
    """Every file of a delivered bundle encrypted at rest (as the vault seals it): the server decrypts through
    `read`, the weights never touch the disk in plaintext and the tokenizer's private copy is removed."""
    import os
    import tempfile

    from mofang.security.crypto import is_encrypted, read_decrypted, write_encrypted

    plain = write_bundle(tmp_path / "plain", checkpoint, retriever)
    key = os.urandom(32)
    sealed = tmp_path / "sealed"
    for path in sorted(p for p in plain.rglob("*") if p.is_file()):
        target = sealed / path.relative_to(plain)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_encrypted(key, target, path.read_bytes(), target.name.encode())
    assert is_encrypted(sealed / "model" / "model.safetensors")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    bundle = load_bundle(sealed, lambda p: read_decrypted(key, p, p.name.encode()))
    assert list(scratch.iterdir()) == []
    with running_app(create_app(bundle)) as url:
        answer = httpx.post(url + CHAT, json={"messages": [{"role": "user", "content": QUESTION}]}, timeout=60)
    assert answer.json()["choices"][0]["message"]["content"] == RAG_REPLY
