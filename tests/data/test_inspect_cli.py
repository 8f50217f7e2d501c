"""`mofang data inspect`: profile + PII scan of a file, with masked samples and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from mofang.cli import app


def test_inspect_masks_personal_data_and_writes_nothing(tmp_path: Path, home: Path) -> None:
    rows = [("张伟", "13812345678", "110101199003074514", f"订单备注{i}，送到北京市朝阳区建国路88号", i * 10)
            for i in range(30)]
    path = tmp_path / "customers.csv"
    pd.DataFrame(rows, columns=["姓名", "手机", "身份证", "备注", "金额"]).to_csv(path, index=False, encoding="gbk")
    result = CliRunner().invoke(app, ["data", "inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["encoding"] in ("GBK", "GB18030") and report["rows"] == 30
    assert report["pii"]["手机"]["kind"] == "mobile" and report["pii"]["身份证"]["kind"] == "id_card"
    assert "13812345678" not in result.output and "110101199003074514" not in result.output
    kinds = {c["name"]: c["kind"] for c in report["columns"]}
    assert kinds["金额"] == "numeric"
    table = CliRunner().invoke(app, ["data", "inspect", str(path)])
    assert table.exit_code == 0 and "mobile" in table.output and "13812345678" not in table.output
    assert not home.exists() or not any(home.rglob("*.parquet"))


def test_inspect_names_a_missing_file(tmp_path: Path, home: Path) -> None:
    result = CliRunner().invoke(app, ["data", "inspect", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "nope.csv" in result.output
