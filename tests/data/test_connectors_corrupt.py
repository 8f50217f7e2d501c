"""Corrupt input: every connector names the file and says what is wrong; nothing is written anywhere."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from mofang.core.errors import DataError
from mofang.data import read_source
from tests.data.helpers import source

GARBAGE = bytes(b % 255 + 1 for b in os.urandom(8192))  # no NUL byte: the text readers must notice otherwise


@pytest.mark.parametrize("suffix, message", [
    ("csv", "cannot detect the text encoding"), ("tsv", "cannot detect the text encoding"),
    ("xlsx", "not a readable xlsx file"), ("parquet", "not a readable parquet file"),
    ("json", "cannot detect the text encoding"), ("jsonl", "cannot detect the text encoding"),
    ("zip", "not a readable zip archive"), ("tar.gz", "not a readable tar archive"),
])
def test_garbage_renamed(tmp_path: Path, suffix: str, message: str) -> None:
    path = tmp_path / f"garbage.{suffix}"
    path.write_bytes(GARBAGE)
    with pytest.raises(DataError, match=message) as err:
        read_source(source(path))
    assert err.value.source == str(path)
    assert list(tmp_path.iterdir()) == [path]


def test_zip_bomb_renamed_xlsx_refused_before_opening(tmp_path: Path) -> None:
    path = tmp_path / "report.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z, z.open("xl/worksheets/sheet1.xml", "w") as member:
        for _ in range(12):
            member.write(b"<row/>" * (1 << 17))
    with pytest.raises(DataError, match="possible zip bomb") as err:
        read_source(source(path))
    assert err.value.source == str(path)


def test_truncated_xlsx_and_broken_sheet_xml(tmp_path: Path) -> None:
    good = tmp_path / "good.xlsx"
    pd.DataFrame({"a": range(50)}).to_excel(good, index=False)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[:-200])
    with pytest.raises(DataError, match="cut.xlsx: not a readable xlsx file"):
        read_source(source(cut))
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data[: len(data) // 2] if info.filename.endswith("sheet1.xml") else data)
    with pytest.raises(DataError, match="broken.xlsx: (not a readable xlsx file|cannot read sheet)"):
        read_source(source(broken))


def test_json_truncated_names_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text('[\n{"a": 1},\n{"a": 2', encoding="utf-8")
    with pytest.raises(DataError, match="cut.json, row 3: not valid JSON"):
        read_source(source(path))


def test_xls_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + GARBAGE)
    with pytest.raises(DataError, match="old.xls: old Excel .xls files are not supported"):
        read_source(source(path))


@pytest.mark.parametrize(("name", "text", "row"), [
    ("deep.json", "[" * 100_000 + "]" * 100_000, None),  # past the parser's own recursion limit
    ("deep.jsonl", '{"a": 1}\n{"b": ' + "[" * 200 + "]" * 200 + "}\n", 2),  # one line too deep
])
def test_json_nested_too_deep_is_refused_by_name(tmp_path: Path, name: str, text: str, row: int | None) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=r"JSON nested [\d,]+ levels deep; at most 64 are read") as err:
        read_source(source(path))
    assert err.value.source == str(path) and err.value.row == row


def test_brackets_inside_json_strings_do_not_count_as_nesting(tmp_path: Path) -> None:
    path = tmp_path / "brackets.json"
    path.write_text('[{"note": "' + "[" * 500 + '", "n": 1}]', encoding="utf-8")
    frame = read_source(source(path))
    assert frame["note"].iloc[0] == "[" * 500
