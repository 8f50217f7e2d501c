"""The product end to end: an order runs down the whole line and its bundle is served over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mofang.demo import write_demo
from mofang.line import run
from mofang.orders import load_order
from mofang.products.server import running_server
from mofang.scheduling.admission import admit as submit
from mofang.security.crypto import is_encrypted
from mofang.security.vault import open_vault


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """Run the demo order (small, short budget) once for this module; yields (meta, job)."""
    import os

    from mofang.store import MetaStore

    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("MOFANG_HOME")
    os.environ["MOFANG_HOME"] = str(home)
    order_file = write_demo(tmp_path_factory.mktemp("demo"), rows=2500, minutes=0.4)
    meta = MetaStore()
    job = run(submit(load_order(order_file), meta, source_file=order_file), meta=meta)
    yield meta, job
    meta.dispose()
    if old is None:
        os.environ.pop("MOFANG_HOME", None)
    else:
        os.environ["MOFANG_HOME"] = old


@pytest.mark.slow
def test_demo_order_is_delivered_with_report_and_card(delivered) -> None:
    meta, job = delivered
    assert job.status == "done", job.outcome
    version = meta.product_version("loan-default-demo")
    bundle = Path(version.bundle_path)
    for name in ("model.joblib", "schema.json", "metadata.json", "model_card.md", "report.html"):
        assert is_encrypted(bundle / name), name  # delivered bundles are encrypted at rest
    vault = open_vault(meta, Path(os.environ["MOFANG_HOME"]))

    def read(name: str) -> str:
        return vault.read("demo-bank", bundle / name).decode("utf-8")

    card = read("model_card.md")
    assert card.startswith("---\n") and "model-index:" in card and "roc_auc" in card
    metadata = json.loads(read("metadata.json"))
    features = {f["name"] for f in metadata["features"]}
    dropped = {d["name"] for d in metadata["dropped"]}
    assert {"身份证号", "手机号", "借款编号", "催收状态"} <= dropped, metadata["dropped"]
    assert "客户备注" not in features | dropped  # denied: never read
    assert {"年利率", "负债收入比", "历史逾期次数"} <= features
    assert metadata["metrics"]["roc_auc"] >= 0.75
    html = read("report.html")
    assert "ACCEPTED" in html and html.count("data:image/png;base64") >= 4


@pytest.mark.slow
def test_served_product_answers_and_names_bad_fields(delivered) -> None:
    meta, _ = delivered
    version = meta.product_version("loan-default-demo")
    raw = {"年龄": "35岁", "城市": "上海", "学历": "本科", "职业": "IT", "月收入": "¥1.5万", "贷款金额": "120,000",
           "期限": "24个月", "年利率": "9.5%", "负债收入比": "0.2", "历史逾期次数": "0", "申请日期": "2024/5/6"}
    with running_server(version) as url:
        assert httpx.get(f"{url}/health").json()["status"] == "ok"
        assert httpx.get(f"{url}/metadata").json()["task"] == "tabular-classification"
        answer = httpx.post(f"{url}/predict", json={"rows": [raw, {**raw, "月收入": None}]}).json()
        assert len(answer["predictions"]) == 2 and set(answer["predictions"]) <= {"是", "否"}
        assert abs(sum(answer["probabilities"][0].values()) - 1) < 1e-6
        bad = httpx.post(f"{url}/predict", json={"rows": [{**raw, "年利率": "很高"}]})
        assert bad.status_code == 422 and "年利率" in bad.text and "cannot read" in bad.text
        typo = httpx.post(f"{url}/predict", json={"rows": [{**raw, "月收人": 100}]})
        assert typo.status_code == 422 and "月收人" in typo.text
        as_in_source = httpx.post(f"{url}/predict", json={"rows": [{**raw, "借款编号": "LN1", "身份证号": "x"}]})
        assert as_in_source.status_code == 200, as_in_source.text  # source columns the model ignores
        missing_spelt = httpx.post(f"{url}/predict", json={"rows": [{**raw, "月收入": "N/A"}]})
        assert missing_spelt.status_code == 200, missing_spelt.text
        empty = httpx.post(f"{url}/predict", json={"rows": []})
        assert empty.status_code == 422
        assert httpx.get(f"{url}/openapi.json").status_code == 200


@pytest.mark.slow
def test_cli_lists_and_shows(delivered) -> None:
    from typer.testing import CliRunner

    from mofang.cli import app

    runner = CliRunner()
    listed = runner.invoke(app, ["products", "list"])
    assert listed.exit_code == 0 and "loan-default-demo" in listed.output
    shown = runner.invoke(app, ["products", "show", "loan-default-demo@1"])
    assert shown.exit_code == 0 and "mofang products report loan-default-demo@1" in shown.output
    report = Path(os.environ["MOFANG_HOME"]).parent / "report.html"
    written = runner.invoke(app, ["products", "report", "loan-default-demo@1", "--out", str(report)])
    assert written.exit_code == 0 and "ACCEPTED" in report.read_text("utf-8")
    orders = runner.invoke(app, ["orders", "show", "loan-default-demo"])
    assert orders.exit_code == 0 and "picked" in orders.output and "evaluation" in orders.output
    missing = runner.invoke(app, ["products", "show", "loan-default-demo@9"])
    assert missing.exit_code == 2 and "no version 9" in missing.output


@pytest.mark.slow
def test_failing_gate_reports_but_does_not_deliver(tmp_path, home) -> None:
    from mofang.store import MetaStore

    order_file = write_demo(tmp_path, rows=1200, minutes=0.3)
    text = order_file.read_text("utf-8").replace('roc_auc: ">= 0.75"', 'roc_auc: ">= 0.999"')
    order_file.write_text(text, "utf-8")
    result = subprocess.run([sys.executable, "-m", "mofang.cli", "run", str(order_file)],
                            capture_output=True, text=True, timeout=300, env={**__import__("os").environ})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "acceptance gate failed: roc_auc" in result.stdout
    meta = MetaStore()
    assert meta.products() == []
    job = meta.orders()[0].jobs[0]
    assert job.status == "rejected" and Path(job.outcome["report"]).is_file()
    assert "mofang orders report loan-default-demo" in result.stdout
    from mofang.security.scratch import plaintext_files

    assert plaintext_files(Path(job.outcome["report"]).parents[1]) == []  # the scratch folder is sealed
    report = tmp_path / "rejected.html"
    shown = subprocess.run([sys.executable, "-m", "mofang.cli", "orders", "report", "loan-default-demo",
                            "--out", str(report)], capture_output=True, text=True, timeout=60,
                           env={**__import__("os").environ})
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "REJECTED" in report.read_text("utf-8")
    meta.dispose()
