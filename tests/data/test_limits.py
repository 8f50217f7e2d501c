"""The limits where data enters: each refused with the file, the line or row, the limit and its variable."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from mofang.core.errors import DataError
from mofang.data import read_source
from mofang.data.limits import Limits, check_lines, limits
from tests.data.helpers import source


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """Limits small enough to reach with tiny files."""
    for name, value in (("LINE_BYTES", 200), ("ROWS", 5), ("COLUMNS", 4), ("CELL_CHARS", 20), ("FILE_BYTES", 40_000)):
        monkeypatch.setenv(f"MOFANG_DATA_MAX_{name}", str(value))


def test_defaults_and_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    assert limits() == Limits()
    assert Limits().line_bytes == 1 << 20 and Limits().columns == 10_000
    monkeypatch.setenv("MOFANG_DATA_MAX_ROWS", "1_000")
    assert limits().rows == 1000
    for bad in ("lots", "0", "-3"):
        monkeypatch.setenv("MOFANG_DATA_MAX_ROWS", bad)
        with pytest.raises(DataError, match="MOFANG_DATA_MAX_ROWS must be a positive whole number"):
            limits()


def test_six_megabyte_single_line_csv_refused_within_a_second(tmp_path: Path) -> None:
    path = tmp_path / "one-line.csv"
    path.write_text(",".join(f"c{i}" for i in range(700_000)), encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(DataError, match=r"row 1: the line is [\d,]+ bytes long; the limit is 1,048,576 "
                                        r"\(MOFANG_DATA_MAX_LINE_BYTES raises it\)") as err:
        read_source(source(path))
    assert time.monotonic() - started < 5
    assert err.value.source == str(path)


@pytest.mark.parametrize("data, line", [(b"a" * 11, 1), (b"abc\n" + b"a" * 11, 2), (b"ab\n" * 30 + b"c" * 11, 31),
                                        (b"ok\n" * 5 + b"x" * 12 + b"\nok", 6)])
def test_check_lines_names_the_first_long_line(monkeypatch: pytest.MonkeyPatch, data: bytes, line: int) -> None:
    monkeypatch.setattr("mofang.data.limits.CHUNK_BYTES", 4)  # line breaks found across chunk borders
    with pytest.raises(DataError) as err:
        check_lines(data, "f", Limits(line_bytes=10))
    assert err.value.row == line


def test_check_lines_passes_lines_at_the_limit() -> None:
    check_lines(b"a" * 10 + b"\n" + b"b" * 9 + b"\r\n" + b"c" * 10, "f", Limits(line_bytes=10))


@pytest.mark.usefixtures("small")
def test_csv_limits(tmp_path: Path) -> None:
    cases = {
        "wide.csv": ("a,b,c,d,e\n1,2,3,4,5\n", r"5 columns; the limit is 4 \(MOFANG_DATA_MAX_COLUMNS"),
        "long.csv": ("a,b\n1," + "x" * 300 + "\n", r"row 2: the line is 302 bytes long; the limit is 200"),
        "tall.csv": ("a,b\n" + "1,2\n" * 9, r"more than 5 data rows; the limit is 5 \(MOFANG_DATA_MAX_ROWS"),
        "cell.csv": ('a,b\n1,2\n3,"' + "y\n" * 30 + '"\n', r"row 2, column 'b': a cell of 60 characters; the limit"),
        "big.csv": ("a,b\n" + "1,2\n" * 12_000, r"the file is 48,004 bytes; the limit is 40,000"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(DataError, match=message) as err:
            read_source(source(path))
        assert err.value.source == str(path)


@pytest.mark.usefixtures("small")
def test_json_excel_parquet_limits(tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{"a": i} for i in range(8)]), encoding="utf-8")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{f"k{i}": 1} for i in range(5)]), encoding="utf-8")
    line = tmp_path / "line.jsonl"
    line.write_text('{"a": 1}\n{"a": "' + "z" * 300 + '"}\n', encoding="utf-8")
    cell = tmp_path / "cell.jsonl"
    cell.write_text('{"a": 1}\n{"a": "' + "z" * 30 + '"}\n', encoding="utf-8")
    wide = tmp_path / "wide.xlsx"
    pd.DataFrame([[1] * 6]).to_excel(wide, index=False)
    tall = tmp_path / "tall.parquet"
    pd.DataFrame({"a": range(50)}).to_parquet(tall)
    for path, message in ((rows, "8 data rows"), (keys, "5 columns"), (line, "row 2: the line is 3"),
                          (cell, "row 2, column 'a': a cell of 30 characters"), (wide, "6 columns"),
                          (tall, "50 data rows")):
        with pytest.raises(DataError, match=message) as err:
            read_source(source(path))
        assert err.value.source == str(path)


def test_documents_are_not_held_to_the_cell_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOFANG_DATA_MAX_CELL_CHARS", "10")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("a long document " * 20, encoding="utf-8")
    frame = read_source(source(folder))
    assert len(frame.loc[0, "text"]) > 10


def test_sql_rows_limit_and_duplicate_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from mofang.orders import Source

    db = tmp_path / "t.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"x{i}") for i in range(8)])
    frame = read_source(Source(url=f"sqlite:///{db}", query="SELECT a, a, b FROM t"))
    assert list(frame.columns) == ["a", "a.1", "b"] and len(frame) == 8
    monkeypatch.setenv("MOFANG_DATA_MAX_ROWS", "5")
    with pytest.raises(DataError, match=r"\(t\): 8 data rows; the limit is 5 \(MOFANG_DATA_MAX_ROWS"):
        read_source(Source(url=f"sqlite:///{db}", table="t"))


def test_headers_equal_after_cleaning_are_made_unique(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("a, a,a \n1,2,3\n", encoding="utf-8")
    assert list(read_source(source(path)).columns) == ["a", "a.1", "a.2"]
