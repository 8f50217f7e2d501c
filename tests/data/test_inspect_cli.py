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


def test_inspect_masks_name_columns_found_by_their_values(tmp_path: Path, home: Path) -> None:
    """客户 and 借款人 say nothing of names; their values do, so the samples printed are masked ones."""
    customers = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨秀英", "黄磊", "赵丽", "吴敏", "徐强"]
    borrowers = ["李建华", "王秀兰", "张国强", "刘桂英", "陈志明", "杨丽娟", "赵永刚", "黄淑芬", "周海燕", "吴晓东"]
    cities = ["北京", "上海", "广州", "深圳", "杭州", "南京", "武汉", "成都", "西安", "金华"]
    path = tmp_path / "loans.csv"
    pd.DataFrame({"客户": customers * 3, "借款人": borrowers * 3, "城市": cities * 3,
                  "金额": range(30)}).to_csv(path, index=False, encoding="gbk")
    result = CliRunner().invoke(app, ["data", "inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["pii"]["客户"]["kind"] == "person_name" and report["pii"]["借款人"]["kind"] == "person_name"
    assert "城市" not in report["pii"]
    samples = {c["name"]: c["samples"] for c in report["columns"]}
    assert samples["客户"] == ["张*", "王*", "李*"] and samples["借款人"] == ["李**", "王**", "张**"]
    table = CliRunner().invoke(app, ["data", "inspect", str(path)])
    assert table.exit_code == 0 and "李**" in table.output
    for raw in customers + borrowers:
        assert raw not in result.output and raw not in table.output


def test_inspect_names_a_missing_file(tmp_path: Path, home: Path) -> None:
    result = CliRunner().invoke(app, ["data", "inspect", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "nope.csv" in result.output


def test_inspect_piped_to_cat_keeps_every_line_whole(tmp_path: Path, home: Path) -> None:
    """Through a pipe (scripts, CI logs, `| tee log`) no line breaks inside a path or a word, whatever the
    terminal around it is: the 150-character path and every table row come out on one line each."""
    import os
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "a-folder-with-a-long-name-for-the-customers-files"
    stem = "customer_records_exported_from_the_core_banking_system"
    path = folder / (stem + "_" * (150 - len(str(folder)) - len(stem) - 5) + ".csv")
    assert len(str(path)) >= 150
    path.parent.mkdir(parents=True)
    note = "a_remark_long_enough_to_pass_eighty_columns_when_the_samples_are_joined_in_one_cell"
    pd.DataFrame({"customer_reference_number": [f"CR-{i:06d}" for i in range(20)],
                  "free_text_remark_of_the_branch_officer": [f"{note}_{i}" for i in range(20)]}).to_csv(path,
                                                                                                       index=False)
    mofang = shutil.which("mofang", path=str(Path(sys.executable).parent)) or "mofang"
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE")}
    done = subprocess.run(f"'{mofang}' data inspect '{path}' | cat", shell=True, capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(str(path) in line for line in lines), done.stdout
    rows = [line for line in lines if "free_text_remark_of_the_branch_officer" in line]
    assert len(rows) == 1 and rows[0].count(note[:39]) == 3, done.stdout  # samples shortened with "…", not wrapped
    assert "\x1b[" not in done.stdout  # no colour codes in a pipe
    missing = subprocess.run(f"'{mofang}' data inspect '{path}.missing' 2>&1 | cat", shell=True,
                             capture_output=True, text=True, env=env, timeout=120)
    assert any(f"{path}.missing" in line for line in missing.stdout.splitlines()), missing.stdout
