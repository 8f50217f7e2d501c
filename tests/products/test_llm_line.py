"""The large-model line on CPU: an alpaca-style legal Q&A file (with phone numbers in the questions) and a tiny
random Qwen2 with the real Qwen tokenizer run down the whole line with `mofang run` — conversations read,
personal data masked, refusal pairs added, full fine-tuning, base-vs-tuned evaluation, packaging, delivery —
and the delivered product answers `/v1/chat/completions`, streamed and not. Orders the line cannot train are
refused at intake with the field to fix."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.models.transformer.tiny import tiny_qwen2_checkpoint
from tests.models.test_transformer_coverage import qwen_tokenizer_dir
from tests.products.tiny_orders import mofang_home

pytest.importorskip("peft")
pytestmark = pytest.mark.slow  # a real order down the whole line (about a minute on 2 cores)

TOPICS = {"合同": "合同纠纷先协商，协商不成可以起诉。", "劳动": "劳动争议先申请劳动仲裁。",
          "婚姻": "离婚可以协议离婚或诉讼离婚。", "继承": "没有遗嘱的按法定继承办理。",
          "租赁": "租赁纠纷看合同约定的违约责任。", "借款": "借款纠纷要保留借条和转账记录。"}
WHO = ["张先生", "李女士", "王先生", "赵女士", "陈先生", "刘女士", "杨先生", "黄女士", "周先生", "吴女士"]

ORDER = """\
id: law-assistant
tenant: demo-law
task: instruction-tuning
base_model: {base}
data:
  - path: law.json
llm:
  system_prompt: 你是一名法律咨询助手。
  max_seq_len: 160
  method: full
  learning_rates: [0.003]
  epochs: 3
  batch_size: 8
  max_new_tokens: 12
  eval_rows: 6
  refusal_pairs: 8
acceptance:
  metrics:
    eval_loss: "<= 11.5"
budget:
  minutes: 4
"""


def law_rows() -> list[dict[str, str]]:
    rows = []
    for i in range(60):
        topic = list(TOPICS)[i % len(TOPICS)]
        rows.append({"instruction": "请回答下面的法律咨询。",
                     "input": f"{WHO[i % 10]}问{topic}的问题（第{i}号，电话1390013{i:04d}）："
                              f"{topic}方面出了问题怎么办？",
                     "output": TOPICS[topic]})
    return rows


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    from mofang.store import MetaStore

    home, folder = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("order")
    base = tiny_qwen2_checkpoint(tmp_path_factory.mktemp("tiny-qwen"), tokenizer_folder=qwen_tokenizer_dir(request),
                                 max_positions=256)
    (folder / "law.json").write_text(json.dumps(law_rows(), ensure_ascii=False), encoding="utf-8")
    (folder / "order.yaml").write_text(ORDER.format(base=base), encoding="utf-8")
    with mofang_home(home):
        result = CliRunner().invoke(app, ["run", str(folder / "order.yaml")])
        assert result.exit_code == 0, result.output
        meta = MetaStore()
        yield {"meta": meta, "version": meta.product_version("law-assistant"), "folder": folder, "base": base,
               "home": home}
        meta.dispose()


def _reasons(meta, job_id: int) -> dict[str, list[str]]:
    from sqlalchemy import select

    from mofang.store.models import ProcessRun, StationRun

    with meta.session() as s:
        rows = s.execute(select(ProcessRun.name, ProcessRun.reasons)
                         .join(StationRun, ProcessRun.station_run_id == StationRun.id)
                         .where(StationRun.job_id == job_id)).all()
    return {name: list(reasons or []) for name, reasons in rows}


def test_the_order_is_tuned_evaluated_against_its_base_and_delivered(line) -> None:
    from mofang.security.vault import open_vault

    meta, version = line["meta"], line["version"]
    job = meta.job(version.job_id)
    assert job.outcome["verdict"] == "accepted", job.outcome
    reasons = _reasons(meta, version.job_id)
    assert any("read as alpaca conversations" in r for r in reasons["ingest"])
    assert any("desensitize.pii" in r and "cells changed" in r for r in reasons["desensitize"]), reasons
    assert any("refusal pairs to train" in r for r in reasons["split"])
    assert any("full fine-tuning" in r or "llm.method full" in r for r in reasons["plan"])
    metrics = version.metrics
    assert metrics["eval_loss"] <= 11.5 and metrics["rouge_l"] is not None and metrics["refusal_rate"] is not None
    vault = open_vault(meta, Path(line["home"]))
    html = vault.read("demo-law", Path(version.bundle_path) / "report.html").decode("utf-8")
    assert "Generation: base vs" in html and "Side by side" in html and "Fine-tuning trials" in html
    assert html.count("data:image/png") >= 2
    assert "1390013" not in html  # the phone numbers were masked before training and evaluation
    card = json.loads(vault.read("demo-law", Path(version.bundle_path) / "metadata.json"))
    assert card["task"] == "instruction-tuning"


def test_tuning_beat_the_base_model_on_test_loss(line) -> None:
    from mofang.security.vault import open_vault

    meta, version = line["meta"], line["version"]
    vault = open_vault(meta, Path(line["home"]))
    card = json.loads(vault.read("demo-law", Path(version.bundle_path) / "metadata.json"))
    base, tuned = card["base_metrics"], card["metrics"]
    assert tuned["eval_loss"] < base["eval_loss"] - 0.3, (base, tuned)  # the random base reads ~ln(151k) ≈ 11.9
    assert set(base) >= {"rouge_l", "bleu", "f1", "refusal_rate", "hallucination_rate"}
    text = vault.read("demo-law", Path(version.bundle_path) / "model_card.md").decode("utf-8")
    assert "## Base vs tuned" in text and "| eval_loss |" in text


def test_the_product_answers_chat_completions_streamed_and_not(line) -> None:
    from mofang.products.server import running_server

    version = line["version"]
    with running_server(version, store=line["meta"]) as url:
        request = {"model": "law-assistant", "max_tokens": 8,
                   "messages": [{"role": "user", "content": "合同方面出了问题怎么办？我的电话是13900131234"}]}
        answer = httpx.post(f"{url}/v1/chat/completions", json=request, timeout=60)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        content = body["choices"][0]["message"]["content"]
        assert body["usage"]["completion_tokens"] >= 1 and body["usage"]["prompt_tokens"] > 10
        pieces, done = [], False
        with httpx.stream("POST", f"{url}/v1/chat/completions", json={**request, "stream": True},
                          timeout=60) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["content-type"].startswith("text/event-stream")
            for line_text in streamed.iter_lines():
                if not line_text.startswith("data: "):
                    continue
                data = line_text[len("data: "):]
                if data == "[DONE]":
                    done = True
                    break
                chunk = json.loads(data)
                assert chunk["object"] == "chat.completion.chunk"
                pieces.append(chunk["choices"][0]["delta"].get("content") or "")
        assert done and "".join(pieces) == content
        metrics = httpx.get(f"{url}/metrics", timeout=30).text
        assert re.search(r'mofang_requests_total\{endpoint="completions",product="law-assistant",status="200",'
                         r'version="1"\} 2\.0', metrics), metrics[:3000]  # the plain and the streamed reply
        drift = httpx.get(f"{url}/drift", timeout=30)
        assert drift.status_code == 404 and "chat product" in drift.text
        tool = httpx.get(f"{url}/tool", timeout=30).json()
        assert tool["endpoint"] == {"method": "POST", "path": "/v1/chat/completions"}
        assert "messages" in tool["openai"]["function"]["parameters"]["properties"]
        too_long = httpx.post(f"{url}/v1/chat/completions", timeout=60,
                              json={"messages": [{"role": "user", "content": "合同" * 400}]})
        assert too_long.status_code == 400 and "tokens" in too_long.text


@pytest.mark.parametrize(("change", "field", "needle"), [
    (("base_model: {base}", "base_model: /nowhere/qwen-7b"), "base_model", "no folder"),
    (("max_seq_len: 160", "max_seq_len: 4096"), "llm.max_seq_len", "longer than"),
])
def test_orders_the_line_cannot_train_are_refused_at_intake(line, tmp_path: Path, change, field, needle) -> None:
    folder = line["folder"]
    text = ORDER.replace(*change).format(base=line["base"]).replace("id: law-assistant", "id: law-bad")
    (tmp_path / "law.json").write_bytes((folder / "law.json").read_bytes())
    (tmp_path / "order.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "order.yaml")])
    said = " ".join(result.output.split())  # the console wraps long lines
    assert result.exit_code == 2 and f"field '{field}'" in said and needle in said, said
    assert all(o.order_id != "law-bad" for o in line["meta"].orders())


def test_a_checkpoint_without_a_chat_template_needs_one_named(line, tmp_path: Path, request) -> None:
    bare = tiny_qwen2_checkpoint(tmp_path / "bare", tokenizer_folder=qwen_tokenizer_dir(request), chat_template=None)
    text = ORDER.format(base=bare).replace("id: law-assistant", "id: law-bare")
    (tmp_path / "law.json").write_bytes((line["folder"] / "law.json").read_bytes())
    (tmp_path / "order.yaml").write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "order.yaml")])
    said = " ".join(result.output.split())  # the console wraps long lines
    assert result.exit_code == 2 and "field 'llm.chat_template'" in said and "has no chat template" in said, said


def test_the_portal_tries_the_chat_product(line) -> None:
    from mofang.security.identity import create_api_key, create_tenant
    from mofang.security.tables import ApiKey
    from mofang.store.models import Tenant

    meta = line["meta"]
    with meta.session() as s:
        if s.get(Tenant, "demo-law") is None:
            create_tenant(meta, "demo-law")
    clerk, key = create_api_key(meta, tenant="demo-law", user="clerk", role="member")
    try:
        _try_in_portal(meta, Path(line["home"]), key)
    finally:  # the module's other tests run the CLI as the bootstrap operator, which a key on the install ends
        with meta.session() as s:
            s.delete(s.get(ApiKey, clerk.key_id))


def _try_in_portal(meta, home: Path, key: str) -> None:
    from fastapi.testclient import TestClient

    from mofang.portal import create_app

    with TestClient(create_app(meta, home)) as portal:
        form = portal.get("/signin").text
        signin_token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        signed = portal.post("/signin", data={"api_key": key, "csrf_token": signin_token}, follow_redirects=True)
        assert signed.status_code == 200, signed.text[:500]
        page = portal.get("/products/law-assistant")
        assert page.status_code == 200 and 'name="question"' in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        tried = portal.post("/products/law-assistant/try", data={"csrf_token": token, "question": "合同纠纷怎么办？"})
        assert tried.status_code == 200, tried.text[:2000]
        assert 'id="chat-reply"' in tried.text
