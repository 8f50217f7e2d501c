"""A RAG product down the line: a retrieval-qa FAQ is delivered first; an instruction-tuning order names it
(`llm.rag`), so every conversation is trained and evaluated on the passages the FAQ retrieves, answers are
grounded against those passages, and the delivered chat product retrieves, answers and cites its sources.
The factory's OpenAI-compatible endpoint (here a real deterministic server standing in for an external LLM)
synthesizes extra pairs and judges the answers; neither is required by the line."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi import FastAPI, Request
from typer.testing import CliRunner

from mofang.cli import app
from mofang.models.transformer.tiny import tiny_qwen2_checkpoint
from mofang.products.server import running_app
from tests.models.test_transformer_coverage import qwen_tokenizer_dir
from tests.openai_replies import completion
from tests.products.tiny_orders import mofang_home

pytest.importorskip("peft")
pytestmark = pytest.mark.slow  # two orders down the whole line (about a minute and a half on 2 cores)

FAQ = {"劳动合同到期不续签有补偿吗": "劳动合同期满用人单位不续签的，应当按照工作年限支付经济补偿金。",
       "试用期最长可以约定多久": "劳动合同期限三年以上的，试用期不得超过六个月。",
       "加班费怎么计算": "工作日延长工作时间的，支付不低于工资百分之一百五十的工资报酬。",
       "租房押金不退怎么办": "出租人无正当理由不退还押金的，承租人可以要求返还并主张违约责任。",
       "借条丢了还能要回钱吗": "借条丢失的，可以用转账记录、聊天记录等证据证明借款事实。",
       "离婚时房产怎么分": "婚后共同购买的房产属于夫妻共同财产，原则上平均分割。"}
ASK = ["请问{q}？", "{q}？我想咨询一下。", "你好，{q}", "想了解一下{q}。", "{q}呢？"]

RETRIEVAL_ORDER = """\
id: labor-faq
tenant: demo-rag
task: retrieval-qa
data:
  - path: faq.csv
text: question
target: answer
acceptance: none
budget:
  minutes: 1
"""

RAG_ORDER = """\
id: labor-assistant
tenant: demo-rag
task: instruction-tuning
base_model: {base}
data:
  - path: faq.csv
text: question
target: answer
llm:
  format: qa
  system_prompt: 你是劳动法律咨询助手，只根据资料回答。
  max_seq_len: 320
  method: lora
  lora_ranks: [4, 8]              # two trials, compared by validation loss
  learning_rates: [0.01]
  epochs: 2
  max_new_tokens: 12
  eval_rows: 5
  refusal_pairs: 4
  synthesize: 3
  judge: true
  rag:
    product: labor-faq
    k: 2
acceptance: none
budget:
  minutes: 4
"""


def endpoint_app(calls: list[str]) -> FastAPI:
    """Answers synthesis requests with a pair copying the passage, and judge requests with a score of 4."""
    server = FastAPI()

    @server.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @server.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        user = (await request.json())["messages"][-1]["content"]
        if "文本：\n" in user:
            calls.append("synthesis")
            passage = user.split("文本：\n", 1)[1]
            content = json.dumps([{"question": f"资料里怎么说{passage[:8]}？", "answer": passage}], ensure_ascii=False)
        else:
            calls.append("judge")
            content = '{"score": 4, "reason": "基本正确"}'
        return completion(content)

    return server


def faq_rows() -> pd.DataFrame:
    rows = [{"question": ask.format(q=q), "answer": a} for q, a in FAQ.items() for ask in ASK]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def rag_line(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    from mofang.store import MetaStore

    home, folder = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("order")
    base = tiny_qwen2_checkpoint(tmp_path_factory.mktemp("tiny-qwen"), tokenizer_folder=qwen_tokenizer_dir(request),
                                 max_positions=512)
    faq_rows().to_csv(folder / "faq.csv", index=False)
    (folder / "faq.yaml").write_text(RETRIEVAL_ORDER, encoding="utf-8")
    (folder / "assistant.yaml").write_text(RAG_ORDER.format(base=base), encoding="utf-8")
    calls: list[str] = []
    with running_app(endpoint_app(calls)) as endpoint, mofang_home(home), pytest.MonkeyPatch.context() as env:
        env.setenv("MOFANG_LLM_ENDPOINT", f"{endpoint}/v1")
        for name in ("faq.yaml", "assistant.yaml"):
            result = CliRunner().invoke(app, ["run", str(folder / name)])
            assert result.exit_code == 0, result.output
        meta = MetaStore()
        yield {"meta": meta, "version": meta.product_version("labor-assistant"), "home": home, "calls": calls}
        meta.dispose()


def test_conversations_carry_retrieved_passages_and_answers_are_grounded_in_them(rag_line) -> None:
    from mofang.security.vault import open_vault
    from tests.products.test_llm_line import _reasons

    meta, version = rag_line["meta"], rag_line["version"]
    job = meta.job(version.job_id)
    assert job.outcome["verdict"] == "accepted", job.outcome
    reasons = _reasons(meta, version.job_id)
    assert any("RAG: prompts answered from the top 2 passages of labor-faq v1" in r for r in reasons["split"])
    assert any("synthesized" in r and "pairs through the configured endpoint" in r for r in reasons["ingest"])
    assert any("retrieved passages and the reference" in r for r in reasons["score"])
    trials = [r for r in reasons["train"] if r.startswith("sft-lora-r")]
    assert len(trials) == 2 and all("best valid loss" in r for r in trials), reasons["train"]
    assert any(r.startswith("picked sft-lora-r") and "LoRA adapter merged" in r for r in reasons["select"])
    assert any(re.search(r"judge \(.*\) scored \d+ answers", r) for r in reasons["score"]), reasons["score"]
    assert {"synthesis", "judge"} <= set(rag_line["calls"])
    assert version.metrics["judge_score"] == pytest.approx(0.75)  # (4 - 1) / 4 for every answer
    assert version.metrics["hallucination_rate"] is not None
    vault = open_vault(meta, Path(rag_line["home"]))
    files = {p.name for p in Path(version.bundle_path).iterdir()}
    assert "retriever.joblib" in files and "model" in files
    schema = json.loads(vault.read("demo-rag", Path(version.bundle_path) / "schema.json"))
    assert schema["rag"]["k"] == 2


def test_the_rag_product_answers_with_its_sources(rag_line) -> None:
    from mofang.products.server import running_server

    with running_server(rag_line["version"], store=rag_line["meta"]) as url:
        asked = {"messages": [{"role": "user", "content": "加班费怎么计算？"}], "max_tokens": 6}
        answer = httpx.post(f"{url}/v1/chat/completions", json=asked, timeout=60)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["choices"][0]["message"]["content"] and "sources" in body
        assert [p["index"] for p in body["retrieved"]] == [1, 2]  # the k passages the answer was given
        assert body["retrieved"][0]["text"] == FAQ["加班费怎么计算"]  # the FAQ answer to this question
        assert body["usage"]["prompt_tokens"] > 40  # the retrieved passages are part of the prompt
