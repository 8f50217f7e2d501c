"""Connectors: separators, formats, SQL sources and clear errors for broken input."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from mofang.core.errors import DataError
from mofang.data import read_source
from mofang.data.connectors import sniff_separator
from mofang.orders import Source
from tests.conftest import postgres_url
from tests.data.helpers import source

ROWS = [["1", "北京", "3.5"], ["2", "上海", ""], ["3", "N/A", "7"]]


def _write(path: Path, sep: str) -> Path:
    path.write_text("\n".join(sep.join(r) for r in [["id", "城市", "金额"], *ROWS]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("sep, suffix", [(",", "csv"), (";", "csv"), ("\t", "tsv"), ("\t", "txt"),
                                         ("|", "csv")])
def test_separator_sniffed(tmp_path: Path, sep: str, suffix: str) -> None:
    frame = read_source(source(_write(tmp_path / f"t.{suffix}", sep)))
    assert list(frame.columns) == ["id", "城市", "金额"]
    assert frame.attrs["source"]["separator"] == sep
    assert frame["城市"].tolist() == ["北京", "上海", None]  # "N/A" is missing
    assert frame["金额"].tolist() == ["3.5", None, "7"]


def test_sniff_ignores_commas_inside_quotes() -> None:
    assert sniff_separator('a;b\n"1,5";"x,y"\n"2,5";z\n') == ";"


def test_explicit_separator_wins(tmp_path: Path) -> None:
    frame = read_source(source(_write(tmp_path / "t.csv", ";"), separator=";"))
    assert frame.shape == (3, 3)


def test_wrong_field_count_names_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_text("a,b,c,d,e\n" + "1,2,3,4,5\n" * 5 + "1,2,3,4,5,6\n1,2,3,4,5\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_source(source(path))
    assert err.value.row == 7
    assert err.value.source == str(path)
    assert "broken.csv, row 7" in str(err.value) and "expected 5 fields" in str(err.value)


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"a,b,c\n", "no data rows"),
                                              (b"\n\n  \n", "empty")])
def test_empty_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_source(source(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_source(source(tmp_path / "nope.csv"))


def test_garbage_bytes(tmp_path: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(os.urandom(4096) + b"\x00")
    with pytest.raises(DataError, match="binary|encoding"):
        read_source(source(path))


def test_xlsx_first_sheet_named_sheet_and_padding(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    padded = pd.DataFrame({"名称": ["甲", "乙", None, None], "数量": [1, 2.5, None, None],
                           "Unnamed: 2": [None] * 4})
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        padded.to_excel(writer, sheet_name="数据", index=False)
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="其他", index=False)
    frame = read_source(source(path))
    assert list(frame.columns) == ["名称", "数量"]
    assert frame["名称"].tolist() == ["甲", "乙"] and frame["数量"].tolist() == ["1", "2.5"]
    assert read_source(source(path, sheet="其他"))["x"].tolist() == ["1"]
    with pytest.raises(DataError, match="did you mean '数据'"):
        read_source(source(path, sheet="数据表"))


def test_truncated_xlsx(tmp_path: Path) -> None:
    good = tmp_path / "good.xlsx"
    pd.DataFrame({"a": range(100)}).to_excel(good, index=False)
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(good.read_bytes()[:1500])
    with pytest.raises(DataError, match="not a readable xlsx"):
        read_source(source(bad))


def test_parquet_and_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"n": [1.5, None, 3.0], "d": pd.to_datetime(["2023-01-05", None, "2023-02-01"]),
                  "s": ["a", None, "c"]}).to_parquet(path)
    frame = read_source(source(path))
    assert frame["n"].tolist() == ["1.5", None, "3.0"]
    assert frame["d"].tolist()[1] is None and frame["d"][0].startswith("2023-01-05")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match="not a readable parquet"):
        read_source(source(bad))


def test_jsonl_and_json(tmp_path: Path) -> None:
    lines = tmp_path / "t.jsonl"
    lines.write_text('{"a": 1, "b": "x"}\n{"a": null, "b": "y"}\n', encoding="utf-8")
    assert read_source(source(lines)).to_dict("list") == {"a": ["1", None], "b": ["x", "y"]}
    records = tmp_path / "t.json"
    records.write_text('[{"a": 1.0, "b": "x"}, {"a": 2, "b": "空"}]', encoding="utf-8")
    assert read_source(source(records)).to_dict("list") == {"a": ["1", "2"], "b": ["x", None]}
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n{"a": 2\n', encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_source(source(broken))
    assert err.value.row == 2


def _fill(url: str, table: str) -> None:
    engine = sa.create_engine(url)
    frame = pd.DataFrame({"id": [1, 2, 3], "城市": ["北京", "上海", None], "金额": [1.5, 2.0, None]})
    frame.to_sql(table, engine, if_exists="replace", index=False)
    engine.dispose()


def test_sqlite_table_and_query(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loans.db'}"
    _fill(url, "loans")
    frame = read_source(Source(url=url, table="loans"))
    assert frame.to_dict("list") == {"id": ["1", "2", "3"], "城市": ["北京", "上海", None],
                                     "金额": ["1.5", "2.0", None]}
    assert frame.attrs["source"]["format"] == "sql"
    picked = read_source(Source(url=url, query="SELECT id FROM loans WHERE id > 1"))
    assert picked["id"].tolist() == ["2", "3"]
    with pytest.raises(DataError, match="did you mean 'loans'"):
        read_source(Source(url=url, table="loan"))
    with pytest.raises(DataError, match="database error"):
        read_source(Source(url=url, query="SELECT nope FROM loans"))


def test_bad_sql_url() -> None:
    with pytest.raises(DataError, match="bad database URL"):
        read_source(Source(url="nosuchdb://x/y", table="t"))


@pytest.mark.postgres
def test_postgres_table() -> None:
    POSTGRES = postgres_url()  # noqa: N806
    _fill(POSTGRES, "mofang_data_test")
    frame = read_source(Source(url=POSTGRES, table="mofang_data_test"))
    assert frame["城市"].tolist() == ["北京", "上海", None]
    with pytest.raises(DataError, match="no table"):
        read_source(Source(url=POSTGRES, table="mofang_data_absent"))
    bad = POSTGRES.rsplit("/", 1)[0] + "/no_such_database_xyz"
    with pytest.raises(DataError, match="database error"):
        read_source(Source(url=bad, table="t"))


@pytest.mark.postgres
def test_denied_columns_never_leave_the_database() -> None:
    """A role without SELECT on a column can still read the granted ones: proof the column is never selected."""
    admin = postgres_url()
    engine = sa.create_engine(admin)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS mofang_grants"))
        conn.execute(sa.text("CREATE TABLE mofang_grants (客户 text, 收入 int, 身份证号 text)"))
        conn.execute(sa.text("INSERT INTO mofang_grants VALUES ('甲', 1, '110101199001011234'), ('乙', 2, 'x')"))
        conn.execute(sa.text("DO $$ BEGIN CREATE ROLE mofang_reader LOGIN; "
                             "EXCEPTION WHEN duplicate_object THEN NULL; END $$"))
        conn.execute(sa.text("REVOKE ALL ON mofang_grants FROM mofang_reader"))
        conn.execute(sa.text("GRANT SELECT (客户, 收入) ON mofang_grants TO mofang_reader"))
    engine.dispose()
    reader = admin.replace("//postgres@", "//mofang_reader@")
    granted = lambda column: column != "身份证号"  # noqa: E731
    table = Source(url=reader, table="mofang_grants")
    frame = read_source(table, granted=granted)
    assert list(frame.columns) == ["客户", "收入"] and frame.attrs["source"]["denied"] == ["身份证号"]
    with pytest.raises(DataError, match="permission denied"):
        read_source(table)  # everything asked for: the database refuses
    # a query is wrapped so only granted columns come back
    query = read_source(Source(url=admin, query="SELECT * FROM mofang_grants;"), granted=granted)
    assert list(query.columns) == ["客户", "收入"] and query["客户"].tolist() == ["甲", "乙"]


def _book(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


def test_xlsx_all_sheets_stacked(tmp_path: Path) -> None:
    path = _book(tmp_path / "book.xlsx", {"空": pd.DataFrame(), "一月": pd.DataFrame({"名称": ["甲"], "数量": [1]}),
                                          "二月": pd.DataFrame({"数量": [2, 3], "名称": ["乙", "丙"]})})
    frame = read_source(source(path, sheet="*"))
    assert frame.to_dict("list") == {"名称": ["甲", "乙", "丙"], "数量": ["1", "2", "3"]}
    info = frame.attrs["source"]
    assert info["sheets"] == ["一月", "二月"] and info["empty_sheets"] == ["空"]
    assert read_source(source(path)).attrs["source"]["sheets"] == ["一月"]  # default: first non-empty sheet
    other = _book(tmp_path / "other.xlsx", {"a": pd.DataFrame({"x": [1]}), "b": pd.DataFrame({"y": [1]})})
    with pytest.raises(DataError, match=r"sheet 'b' differs from sheet 'a': only in 'b': \['y'\]"):
        read_source(source(other, sheet="*"))


def test_xlsx_header_below_blank_rows_and_dates(tmp_path: Path) -> None:
    import datetime

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append([])
    sheet.append(["日期", None, "金额", "金额"])
    sheet.append([datetime.datetime(2023, 1, 5, 8, 30), None, 1.5, "N/A"])
    path = tmp_path / "dates.xlsx"
    book.save(path)
    frame = read_source(source(path))
    assert frame.to_dict("list") == {"日期": ["2023-01-05 08:30:00"], "金额": ["1.5"], "金额.1": [None]}


def test_json_object_of_record_lists(tmp_path: Path) -> None:
    path = tmp_path / "windows.json"
    path.write_text('{"a.csv": [["2014-01-01", "2014-01-02"], ["2014-02-01", "2014-02-03"]], "b.csv": [],'
                    ' "c.csv": [["2015-01-01", "2015-01-09"]]}', encoding="utf-8")
    frame = read_source(source(path))
    assert frame.to_dict("list") == {"key": ["a.csv", "a.csv", "c.csv"],
                                     "value_1": ["2014-01-01", "2014-02-01", "2015-01-01"],
                                     "value_2": ["2014-01-02", "2014-02-03", "2015-01-09"]}
    assert frame.attrs["source"]["layout"] == "grouped" and frame.attrs["source"]["empty_keys"] == 1
    columns = tmp_path / "columns.json"
    columns.write_text('{"a": [1, 2], "b": ["x", "y"]}', encoding="utf-8")
    assert read_source(source(columns)).to_dict("list") == {"a": ["1", "2"], "b": ["x", "y"]}
    scalar = tmp_path / "scalar.json"
    scalar.write_text('["x", "y"]', encoding="utf-8")
    with pytest.raises(DataError, match="this is a list of str"):
        read_source(source(scalar))


def test_jsonl_with_unicode_line_separators_inside_strings(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "第一段\u2029第二段\u2028x"}\r\n{"text": "y"}\n', encoding="utf-8")
    assert read_source(source(path))["text"].tolist() == ["第一段\u2029第二段\u2028x", "y"]
