"""inspect_target: a read-only profile of a file, folder, archive or database table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from mofang.core.errors import DataError
from mofang.data.inspect import inspect_target


def test_csv_profile(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    long = "很长的评论" * 20
    path.write_bytes(("id;城市;金额;评论\n" + "".join(f"{i};{'北京' if i % 2 else '上海'};{i * 1.5};{long}{i}\n"
                                                      for i in range(30)) + "30;;;\n").encode("gbk"))
    before = path.read_bytes()
    report = inspect_target(str(path))
    assert (report["format"], report["encoding"], report["separator"], report["rows"]) == ("csv", "GBK", ";", 31)
    columns = {c["name"]: c for c in report["columns"]}
    assert list(columns) == ["id", "城市", "金额", "评论"]
    assert columns["城市"]["kind"] == "categorical" and columns["城市"]["distinct"] == 2
    assert columns["城市"]["samples"] == ["上海", "北京"] and columns["城市"]["missing_ratio"] == round(1 / 31, 4)
    assert columns["金额"]["kind"] == "numeric" and columns["id"]["kind"] == "identifier"
    assert len(columns["评论"]["samples"]) == 3 and all(len(s) == 40 for s in columns["评论"]["samples"])
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


def test_sqlite_table_and_query(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    engine = sa.create_engine(url)
    pd.DataFrame({"a": [1, 2, 3], "b": ["x", None, "y"]}).to_sql("t", engine, index=False)
    engine.dispose()
    report = inspect_target(url, table="t")
    assert report["format"] == "sql" and report["rows"] == 3 and report["columns"][1]["missing_ratio"] == 0.3333
    assert inspect_target(url, query="SELECT a FROM t WHERE a > 1")["rows"] == 2
    with pytest.raises(DataError, match="exactly one of a table or a query"):
        inspect_target(url)


def test_documents_folder(tmp_path: Path) -> None:
    (tmp_path / "pos").mkdir()
    (tmp_path / "pos" / "a.txt").write_text("good film", encoding="utf-8")
    (tmp_path / "neg").mkdir()
    (tmp_path / "neg" / "b.txt").write_text("bad film", encoding="utf-8")
    report = inspect_target(str(tmp_path))
    assert report["format"] == "documents" and report["rows"] == 2
    assert [c["name"] for c in report["columns"]] == ["path", "title", "text", "format", "label"]
    assert report["details"]["skipped"] == []


def test_file_with_table_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="belong to a database URL"):
        inspect_target(str(tmp_path / "t.csv"), table="t")
