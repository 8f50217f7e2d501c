"""The edge runner reads input files in every encoding the factory reads, with the factory's detection
(`mofang.data.encoding`, copied into the runner, which cannot import Mofang), and says plainly what it cannot read;
a GBK CSV gives the same predictions as its UTF-8 copy, in the fresh venv too."""

from __future__ import annotations

import codecs
import json
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from mofang.data.encoding import decode
from mofang.integration.edge_runner import decode_bytes, main, read_rows
from tests.integration.conftest import bare_env

TABLE = "编号,城市,备注\n1,北京,信用良好\n2,深圳,逾期一次（已结清）\n3,上海,“优质”客户…\n"
TRADITIONAL = "編號,城市,備註\n1,臺北,信用良好\n2,高雄,逾期一次（已結清）\n3,臺中,優質客戶\n"
SAMPLES = {
    "utf-8": TABLE.encode("utf-8"),
    "utf-8-bom": codecs.BOM_UTF8 + TABLE.encode("utf-8"),
    "gbk": TABLE.encode("gbk"),
    "gb18030": (TABLE + "4,𠀀城,€符号\n").encode("gb18030"),  # characters GBK has not
    "big5": TRADITIONAL.encode("big5"),
    "utf-16": TABLE.encode("utf-16"),
    "gbk cut off mid-character": TABLE.encode("gbk")[:-3],
    "ascii": b"a,b\n1,2\n",
}


@pytest.mark.parametrize("name", SAMPLES)
def test_the_runner_detects_an_encoding_as_the_factory_does(name: str) -> None:
    data = SAMPLES[name]
    factory = decode(data)
    assert decode_bytes(data) == (factory.text, factory.encoding)


@pytest.mark.parametrize("data, says", [
    (b"\x89PNG\r\n\x1a\n....", "a PNG image"),
    (b"PK\x03\x04 zipped", "a zip/xlsx file"),
    (b"a,b\n1,\x00\n", "binary data (a NUL byte at offset 6, line 2)"),
    (b"a,b\n\x80\x80\xff\xff\n", "cannot detect the text encoding: byte 4 (0x80, line 2)"),
])
def test_what_the_runner_cannot_read_is_said_plainly(data: bytes, says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)) as refused:
        decode_bytes(data, source="rows.csv")
    assert str(refused.value).startswith("rows.csv: ")


def test_a_named_encoding_is_used_and_a_wrong_one_is_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(TABLE.encode("gbk"))
    assert read_rows(str(path), "gbk")[1]["城市"] == "深圳"
    with pytest.raises(ValueError, match=r"not valid utf-8 text \(byte \d+, line 1"):
        read_rows(str(path), "utf-8")
    with pytest.raises(ValueError, match="unknown encoding 'klingon'"):
        read_rows(str(path), "klingon")


def test_rows_read_alike_in_every_encoding_and_separator(tmp_path: Path) -> None:
    expected = read_rows(_write(tmp_path / "utf8.csv", TABLE.encode("utf-8")))
    assert expected[2]["备注"] == "“优质”客户…"
    for name in ("utf-8-bom", "gbk", "utf-16"):
        assert read_rows(_write(tmp_path / f"{name}.csv", SAMPLES[name])) == expected, name
    semicolons = TABLE.replace(",", ";").encode("gb18030")
    assert read_rows(_write(tmp_path / "semicolons.csv", semicolons)) == expected
    rows_json = json.dumps([{"城市": "北京"}], ensure_ascii=False).encode("gbk")
    assert read_rows(_write(tmp_path / "rows.json", rows_json)) == [{"城市": "北京"}]


def test_the_runner_exits_2_with_the_reason_on_an_unreadable_file(tmp_path: Path, capsys) -> None:
    edge = _edge_folder(tmp_path)
    bad = _write(tmp_path / "bad.csv", b"a,b\n\x80\x80\xff\xff\n")
    assert main([bad, "--bundle", str(edge)]) == 2
    assert "cannot detect the text encoding" in capsys.readouterr().err


def test_a_gbk_csv_gets_the_same_predictions_as_its_utf8_copy(tmp_path: Path, capsys) -> None:
    edge, frame, _ = _edge_product(tmp_path)
    answers = {}
    for encoding in ("utf-8", "gbk", "gb18030", "utf-8-sig"):
        path = tmp_path / f"rows-{encoding}.csv"
        frame.to_csv(path, index=False, encoding=encoding)
        out = tmp_path / f"answers-{encoding}.json"
        assert main([str(path), "--bundle", str(edge), "--out", str(out)]) == 0
        answers[encoding] = json.loads(out.read_text("utf-8"))
    assert (tmp_path / "rows-gbk.csv").read_bytes() != (tmp_path / "rows-utf-8.csv").read_bytes()
    assert answers["gbk"] == answers["utf-8"] == answers["gb18030"] == answers["utf-8-sig"]
    assert {a["prediction"] for a in answers["gbk"]} == {"类0", "类1", "类2"}


@pytest.mark.slow
def test_a_gbk_csv_in_the_fresh_venv_answers_like_its_utf8_copy_and_the_product(edge_python: Path,
                                                                               tmp_path: Path) -> None:
    edge, frame, bundle = _edge_product(tmp_path)
    answers = {}
    for encoding in ("utf-8", "gbk"):
        path = tmp_path / f"rows-{encoding}.csv"
        frame.to_csv(path, index=False, encoding=encoding)
        ran = subprocess.run([str(edge_python), str(edge / "mofang_edge_runner.py"), str(path)],
                             capture_output=True, env=bare_env(), text=True, timeout=120)
        assert ran.returncode == 0, ran.stderr
        answers[encoding] = [json.loads(line) for line in ran.stdout.splitlines()]
    assert answers["gbk"] == answers["utf-8"]
    from mofang.integration.edge import records_of

    served = bundle.predict_records(records_of(frame, bundle.feature_names))
    assert [a["prediction"] for a in answers["gbk"]] == served["predictions"]


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _edge_product(tmp_path: Path) -> tuple[Path, pd.DataFrame, object]:
    """A three-class linear model over Chinese categories (北京, 上海, 深圳; classes 类0-类2) as an edge folder,
    its bundle and its raw test rows."""
    from mofang.integration.bundle import Bundle
    from mofang.integration.edge import write_edge_folder
    from mofang.models.registry import get_trainer
    from tests.models.tabular_fixtures import classification_data

    data = classification_data(n=400, n_classes=3)
    order = SimpleNamespace(deployment=SimpleNamespace(target="edge"))
    candidate, _ = get_trainer("tabular-classification", "linear").fit(data["train"], data["valid"],
                                                                       data["dataset"], budget_s=3, order=order)
    schema = {"task": "tabular-classification", "features": data["dataset"]["features"], "ignored": []}
    bundle = Bundle(path=tmp_path, candidate=candidate, schema=schema, metadata={"product": "p"})
    write_edge_folder(candidate, schema, "# card", tmp_path / "edge", quantize=False)
    return tmp_path / "edge", data["test"][bundle.feature_names], bundle


def _edge_folder(tmp_path: Path) -> Path:
    return _edge_product(tmp_path)[0]
