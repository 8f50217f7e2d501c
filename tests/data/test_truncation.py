"""A CSV cut off mid-row: its last row dropped and flagged in the data card, or the file refused under strict."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.core.errors import DataError
from mofang.data import read_source
from mofang.data.truncation import cut_last_row, last_record
from tests.data.helpers import source

CUT = {
    "short.csv": ("a,b,c\n1,2,3\n4,5", "line 3) is cut off: it has 2 of 3 fields"),
    "crlf.csv": ("a,b,c\r\n1,2,3\r\n4,5", "line 3) is cut off: it has 2 of 3 fields"),
    "quote.csv": ('a,b,c\n1,2,3\n4,5,"ab\ncd', "lines 3-4) is cut off: a quoted cell is still open"),
    "after-quoted.csv": ('a,b,c\n1,"x\ny",3\n4,5', "line 4) is cut off: it has 2 of 3 fields"),
}


def test_last_record_keeps_quoted_line_breaks() -> None:
    assert last_record('a,b\n1,"x\ny"\n') == ('1,"x\ny"', 2)
    assert last_record('a,b\n1,2\n3,"p\nq\nr"') == ('3,"p\nq\nr"', 3)
    assert last_record("a,b") == ("a,b", 1)


@pytest.mark.parametrize("text", ["a,b,c\n1,2,3\n4,5,6", "a,b,c\n1,2,3\n4,5\n", "a,b,c\n1,2,3\n", "a,b,c"])
def test_whole_files_are_not_flagged(text: str) -> None:
    assert cut_last_row(text, ",", 3) is None


@pytest.mark.parametrize("name", sorted(CUT))
def test_cut_row_dropped_with_a_warning_or_refused_under_strict(tmp_path: Path, name: str) -> None:
    text, message = CUT[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    frame = read_source(source(path))
    assert len(frame) == 1 and frame.iloc[0].tolist()[0] == "1"
    (warning,) = frame.attrs["source"]["warnings"]
    assert message in warning and "the file looks truncated; that row was dropped" in warning
    with pytest.raises(DataError, match=f"{re.escape(message)}.*refused \\(strict\\)") as err:
        read_source(source(path), strict=True)
    assert err.value.source == str(path) and err.value.row is not None


def test_a_file_of_only_a_cut_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "only.csv"
    path.write_text("a,b,c\n1,2", encoding="utf-8")
    with pytest.raises(DataError, match="line 2\\) is cut off"):
        read_source(source(path))


def test_quote_opened_far_up_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOFANG_DATA_MAX_LINE_BYTES", "100")
    path = tmp_path / "stray.csv"
    path.write_text('a,b\n"1,2\n' + "3,4\n" * 40, encoding="utf-8")
    with pytest.raises(DataError, match="row 2: a quote opened on line 2 is never closed"):
        read_source(source(path))


JOB = """
name: cut-file
tenant: acme
data:
  - path: cut.csv
steps:
  - op: clean.missing
output: out/cut
{strict}
"""


def test_data_card_flags_the_cut_row_and_strict_refuses(tmp_path: Path, home: Path) -> None:
    rows = "".join(f"{i},name {i},{i * 10}\n" for i in range(1, 21))
    (tmp_path / "cut.csv").write_text("id,name,amount\n" + rows + "21,nam", encoding="utf-8")
    job = tmp_path / "job.yaml"
    job.write_text(JOB.format(strict=""), encoding="utf-8")
    result = CliRunner().invoke(app, ["data", "run", str(job)])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "out" / "cut" / "data_card.json").read_text(encoding="utf-8"))
    (flag,) = card["source_warnings"]
    assert flag["source"].endswith("cut.csv") and "line 22) is cut off: it has 2 of 3 fields" in flag["warning"]
    assert card["rows"]["read"] == 20 and card["lineage"]["sources"][0]["warnings"] == [flag["warning"]]
    assert "is cut off" in (tmp_path / "out" / "cut" / "data_card.html").read_text(encoding="utf-8")

    job.write_text(JOB.format(strict="strict: true").replace("out/cut", "out/strict"), encoding="utf-8")
    result = CliRunner().invoke(app, ["data", "run", str(job)])
    assert result.exit_code == 2 and "is cut off" in result.output and "refused (strict)" in result.output
    assert not (tmp_path / "out" / "strict").exists()


def test_order_ingest_records_the_cut_row(tmp_path: Path, make_ctx) -> None:
    from mofang.data import DataWorkshop
    from tests.data.helpers import order_for

    path = tmp_path / "loans.csv"
    rows = "".join(f"{i},{i % 2}\n" for i in range(30))
    path.write_text("amount,default\n" + rows + "31", encoding="utf-8")
    ctx = make_ctx(order_for(path), station="data")
    DataWorkshop().ingest(ctx)
    assert len(ctx.load("raw")) == 30
    (read,) = ctx.load("sources")["sources"]
    assert read["warnings"] and "line 32) is cut off: it has 1 of 2 fields" in read["warnings"][0]
    assert any("loans.csv: the last row (line 32) is cut off" in r for r in ctx.record.reasons)


@pytest.mark.parametrize("where", ["source", "order"])
def test_a_strict_order_refuses_the_cut_row(tmp_path: Path, make_ctx, where: str) -> None:
    from mofang.data import DataWorkshop
    from tests.data.helpers import order_for

    path = tmp_path / "loans.csv"
    path.write_text("amount,default\n" + "".join(f"{i},{i % 2}\n" for i in range(30)) + "31", encoding="utf-8")
    order = order_for(path, strict=True) if where == "order" else order_for(path)
    if where == "source":
        order = order.model_copy(update={"data": [order.data[0].model_copy(update={"strict": True})]})
    ctx = make_ctx(order, station="data")
    with pytest.raises(DataError, match=r"loans\.csv.*cut off.*refused \(strict\)"):
        DataWorkshop().ingest(ctx)
