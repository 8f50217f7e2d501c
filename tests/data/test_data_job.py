"""`mofang data run RECIPE`: a standalone data job publishes a dataset version, or leaves nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from mofang.cli import app

JOB = """
name: reviews-clean
tenant: acme
data:
  - path: reviews.csv
columns:
  deny: [phone]
target: label
steps:
{steps}
output: out/reviews
"""
STEPS = """  - op: normalize.text
  - op: clean.missing
  - op: dedupe.exact
  - op: dedupe.near
    params: {columns: [review], threshold: 0.7}
  - op: desensitize.pii
  - op: quality.text
"""


def reviews(folder: Path) -> Path:
    rows = [("好评，送餐很快，味道不错！", "1", "13800138000"), ("好评，送餐很快，味道不错！", "1", "x"),
            ("好评，送餐很快，味道不错!!", "1", "y"), ("太难吃了，再也不点了，联系我 13912345678", "0", "z"),
            ("包装破损，汤洒了一半。", "0", "w"), ("ＡＢＣ　全角文字测试一下子", None, "v")]
    path = folder / "reviews.csv"
    pd.DataFrame(rows, columns=["review", "label", "phone"]).to_csv(path, index=False, encoding="gbk")
    return path


def test_data_run_publishes_a_version_with_its_card(tmp_path: Path, home: Path) -> None:
    reviews(tmp_path)
    job = tmp_path / "job.yaml"
    job.write_text(JOB.format(steps=STEPS), encoding="utf-8")
    result = CliRunner().invoke(app, ["data", "run", str(job)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "reviews"
    data = pd.read_parquet(out / "data.parquet")
    assert "phone" not in data.columns and len(data) == 3  # missing label, exact and near duplicates gone
    assert not data["review"].str.contains("13912345678").any()
    card = json.loads((out / "data_card.json").read_text(encoding="utf-8"))
    assert card["rows"]["read"] == 6 and card["recipe"]["steps"][0] == "normalize.text"
    assert [p["process"] for p in card["processes"] if p["steps"]] == ["normalize", "clean", "deduplicate",
                                                                      "desensitize", "quality"]
    html = (out / "data_card.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "数据卡" in html
    assert "13912345678" not in html and "13912345678" not in json.dumps(card, ensure_ascii=False)


def test_a_failing_job_leaves_no_partial_version(tmp_path: Path, home: Path) -> None:
    (tmp_path / "reviews.csv").write_bytes(b"review,label\n\xff\xfe\x00\x01garbage,1\n" + bytes(range(256)) * 40)
    job = tmp_path / "job.yaml"
    job.write_text(JOB.format(steps=STEPS).replace("columns:\n  deny: [phone]\n", ""), encoding="utf-8")
    result = CliRunner().invoke(app, ["data", "run", str(job)])
    assert result.exit_code == 2 and "reviews.csv" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_typo_in_a_step_fails_before_reading(tmp_path: Path, home: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(JOB.format(steps="  - op: dedupe.nears\n"), encoding="utf-8")
    result = CliRunner().invoke(app, ["data", "run", str(job)])
    assert result.exit_code == 2 and "did you mean 'dedupe.near'" in " ".join(result.output.split())


def test_data_ops_lists_every_registered_operator() -> None:
    result = CliRunner().invoke(app, ["data", "ops"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for name in ("normalize.text", "clean.coerce", "dedupe.near", "desensitize.pii", "quality.label_noise",
                 "label.rules", "augment.smote"):
        assert name in result.output
