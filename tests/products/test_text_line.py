"""A Chinese text-classification order runs down the whole line with `mofang run` and is served."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.products.server import running_server
from tests.models.text_fixtures import news

ORDER = """\
id: news-topics
tenant: media
task: text-classification
data:
  - path: news.csv
target: 类别
text: 标题
acceptance:
  metrics:
    f1_macro: ">= 0.85"
  p95_latency_ms: 200
  max_robustness_drop: 0.3
budget:
  minutes: 0.4
"""


@pytest.mark.slow
def test_text_order_is_delivered_and_answers_chinese(tmp_path, home) -> None:
    frame = news(700, seed=5)
    frame.insert(0, "编号", [f"N{i:04d}" for i in range(len(frame))])
    frame.to_csv(tmp_path / "news.csv", index=False, encoding="utf-8")
    (tmp_path / "order.yaml").write_text(ORDER.replace("text: 标题", "text: 标题\nid_column: 编号"),
                                         encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "order.yaml")])
    assert result.exit_code == 0, result.output

    from mofang.store import MetaStore

    meta = MetaStore()
    try:
        version = meta.product_version("news-topics")
        metrics = version.metrics
        assert metrics["f1_macro"] >= 0.85 and metrics["f1_micro"] is not None, metrics
        assert meta.job(version.job_id).outcome["verdict"] == "accepted"
        with running_server(version) as url:
            answer = httpx.post(f"{url}/predict", json={"rows": [
                {"标题": "球队在决赛中连进三球夺得联赛冠军"},
                {"标题": "央行宣布下调利率，股市和基金应声上涨", "编号": "N9999"},
            ]}, timeout=30).json()
            assert answer["predictions"] == ["体育", "财经"], answer
            first = answer["probabilities"][0]
            assert set(first) == {"体育", "财经", "科技", "娱乐"} and first["体育"] == max(first.values())
            unknown = httpx.post(f"{url}/predict", json={"rows": [{"正文": "x"}]}, timeout=30)
            assert unknown.status_code == 422 and "正文" in unknown.text
            metadata = httpx.get(f"{url}/metadata", timeout=30).json()
        assert metadata["task"] == "text-classification"
        robust = {c["name"]: c for c in metadata["gate"]["checks"]}["max_robustness_drop"]
        assert robust["passed"] and "worst perturbation" in robust["message"]
        assert metadata["features"] == [{"name": "标题", "kind": "text"}]
        assert json.dumps(metadata["classes"], ensure_ascii=False) == '["体育", "娱乐", "科技", "财经"]'
        report = tmp_path / "report.html"
        assert CliRunner().invoke(app, ["products", "report", "news-topics", "--out", str(report)]).exit_code == 0
        html = report.read_text("utf-8")
        assert "Slices (" in html and "text length" in html and "chars" in html  # slice table by length
        assert "Per-class report" in html and "robustness" in html
    finally:
        meta.dispose()
