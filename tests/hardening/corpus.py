"""A corpus of malformed inputs, generated: nothing binary is committed, every case writes its file into a folder.

Each `Case` says how to read it (`reader`) and what must come out (`expect`): `OK` (read), `ANY` (read, or refused
with a message naming the file) or a regex the refusal's message must match; `flag` is a regex that the refusal or
one of the read's warnings must match (a file cut off mid-row is read without its cut row, or refused).

Families: text encodings, truncated files of every format, zip attacks on xlsx, huge lines/columns/cells/rows, deep
nesting, wrong types, empty and header-only files, duplicated headers, NUL bytes, binary junk, broken CSV structure,
document archives, malformed orders and orders over malformed data.
"""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pandas as pd

OK, ANY = "ok", "any"
SOURCE, STRICT, ORDER, ADMIT = "source", "strict", "order", "admit"  # readers: see tests/hardening/runner.py
TIMEOUT_S = 30
ROWS = 40


@dataclass(frozen=True)
class Case:
    """One malformed input: the file to write, how to read it and what must come out."""

    name: str
    filename: str
    content: Callable[[], bytes]
    expect: str = ANY
    reader: str = SOURCE
    options: dict = field(default_factory=dict)  # Source fields (encoding, format, sheet...)
    env: dict = field(default_factory=dict)  # environment while it is read (limits made small)
    extra: dict[str, Callable[[], bytes]] = field(default_factory=dict)  # files beside it (an order's data)
    timeout: int = TIMEOUT_S
    xfail: str | None = None  # a known bug outside the data workshop, with where it is
    flag: str | None = None  # read with a warning matching this, or refused with a message matching it

    def write(self, folder: Path) -> Path:
        """Write the case's file (and its extra files) into `folder`; return the file's path."""
        for name, content in self.extra.items():
            (folder / name).write_bytes(content())
        path = folder / self.filename
        path.write_bytes(self.content())
        return path


def cases() -> list[Case]:
    """Every case of the corpus, in a stable order, names unique."""
    every = [*encodings(), *truncated(), *zip_attacks(), *huge(), *nesting(), *wrong_types(), *empty(),
             *headers(), *nul_bytes(), *junk(), *csv_structure(), *documents(), *orders(), *admitted()]
    names = [c.name for c in every]
    assert len(names) == len(set(names)), "duplicate case names"
    return every


# -- the well-formed table everything is cut from ------------------------------------------------------------------

@cache
def table() -> pd.DataFrame:
    rng = random.Random(7)
    cities = ["北京", "上海", "广州", "深圳", "成都", "台北"]
    return pd.DataFrame({
        "客户编号": [f"C{i:04d}" for i in range(ROWS)],
        "姓名": [rng.choice("王李张刘陈") + rng.choice(["小明", "大伟", "芳", "静"]) for _ in range(ROWS)],
        "城市": [rng.choice(cities) for _ in range(ROWS)],
        "金额": [f"{rng.randint(1, 99)},{rng.randint(100, 999)}" for _ in range(ROWS)],
        "备注": [rng.choice(["按时还款", "逾期一次，\"已催收\"", "无", "多行\n备注"]) for _ in range(ROWS)],
        "是否违约": [str(rng.randint(0, 1)) for _ in range(ROWS)],
    })


@cache
def csv_text(sep: str = ",") -> str:
    return table().to_csv(index=False, sep=sep, lineterminator="\n")


@cache
def jsonl_text() -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in table().to_dict("records"))


def text_of(fmt: str) -> str:
    return {"csv": csv_text(","), "tsv": csv_text("\t"), "jsonl": jsonl_text()}[fmt]


@cache
def base_bytes(fmt: str) -> bytes:
    if fmt in ("csv", "tsv", "jsonl"):
        return text_of(fmt).encode("utf-8")
    if fmt == "json":
        return json.dumps(table().to_dict("records"), ensure_ascii=False).encode("utf-8")
    return frame_bytes(table(), fmt)


def frame_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "xlsx":
        frame.to_excel(buffer, index=False)
    elif fmt == "parquet":
        frame.to_parquet(buffer, index=False)
    else:
        return frame.to_csv(index=False).encode("utf-8")
    return buffer.getvalue()


def const(data: bytes | str) -> Callable[[], bytes]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return lambda: raw


def junk_bytes(seed: int, size: int = 8192, *, nul: bool = False, newlines: bool = True) -> bytes:
    """Random bytes; without NUL bytes unless `nul` (the text readers must notice otherwise), and without line
    breaks unless `newlines`."""
    data = random.Random(seed).randbytes(size)
    if not nul:
        data = data.replace(b"\x00", b"\x01")
    return data if newlines else data.replace(b"\n", b"\x02").replace(b"\r", b"\x03")


# -- the families ---------------------------------------------------------------------------------------------------

def encodings() -> list[Case]:
    def enc(fmt: str, codec: str) -> Callable[[], bytes]:
        return lambda: text_of(fmt).encode(codec, errors="replace")

    def gbk_cut_end(fmt: str) -> bytes:
        data = text_of(fmt).rstrip("\n").encode("gbk")
        return data + "违".encode("gbk")[:1]  # the first byte of a two-byte character, then the end

    def gbk_cut_inside(fmt: str) -> bytes:
        data = text_of(fmt).encode("gbk")
        middle = len(data) // 2
        while data[middle] < 0x81:
            middle += 1
        return data[:middle] + data[middle + 1:]  # half a character: the rest is misaligned

    def mixed(fmt: str) -> bytes:
        lines = text_of(fmt).splitlines(keepends=True)
        half = len(lines) // 2
        return "".join(lines[:half]).encode("utf-8") + "".join(lines[half:]).encode("gbk")

    builders: dict[str, tuple[Callable[[str], Callable[[], bytes]], str, dict]] = {
        "utf8": (lambda f: enc(f, "utf-8"), OK, {}),
        "utf8-bom": (lambda f: enc(f, "utf-8-sig"), OK, {}),
        "gbk": (lambda f: enc(f, "gbk"), OK, {}),
        "gb18030": (lambda f: enc(f, "gb18030"), OK, {}),
        "big5": (lambda f: enc(f, "big5"), OK, {}),
        "utf16-bom": (lambda f: enc(f, "utf-16"), OK, {}),
        "utf16-no-bom": (lambda f: enc(f, "utf-16-le"), r"binary data \(a NUL byte", {}),
        "utf32-bom": (lambda f: enc(f, "utf-32"), OK, {}),
        "gbk-cut-mid-char": (lambda f: lambda: gbk_cut_end(f), OK, {}),
        "gbk-cut-inside": (lambda f: lambda: gbk_cut_inside(f), ANY, {}),
        "mixed-utf8-gbk": (lambda f: lambda: mixed(f), ANY, {}),
        "bom-then-gbk": (lambda f: lambda: b"\xef\xbb\xbf" + text_of(f).encode("gbk"), ANY, {}),
        "double-bom": (lambda f: lambda: b"\xef\xbb\xbf" * 2 + text_of(f).encode("utf-8"), ANY, {}),
        "invalid-utf8": (lambda f: lambda: base_bytes(f)[:200] + b"\xff\xfe\xc0\xaf" + base_bytes(f)[200:], ANY, {}),
        "declared-utf8-is-gbk": (lambda f: enc(f, "gbk"), r"not valid utf-8 text \(byte \d+", {"encoding": "utf-8"}),
        "unknown-encoding": (lambda f: enc(f, "utf-8"), "unknown encoding 'klingon'", {"encoding": "klingon"}),
    }
    return [Case(f"encoding-{name}-{fmt}", f"data.{fmt}", build(fmt), expect, options=options)
            for name, (build, expect, options) in builders.items() for fmt in ("csv", "tsv", "jsonl")]


def truncated() -> list[Case]:
    expect = {"csv": ANY, "tsv": ANY, "jsonl": ANY, "json": r"not valid JSON",
              "xlsx": r"not a readable xlsx file|cannot read sheet", "parquet": r"not a readable parquet file"}
    cuts = {"5pct": 0.05, "25pct": 0.25, "50pct": 0.5, "75pct": 0.75, "95pct": 0.95, "last-byte": -1}

    def cut(fmt: str, at: float) -> Callable[[], bytes]:
        def build() -> bytes:
            data = base_bytes(fmt)
            return data[:-1] if at < 0 else data[:max(1, int(len(data) * at))]
        return build

    flag = r"the last row \(lines? [\d,-]+\) is cut off"
    every = [Case(f"truncated-{fmt}-{name}", f"cut.{fmt}", cut(fmt, at), expect[fmt],
                  flag=flag if fmt in ("csv", "tsv") and at > 0 else None)
             for fmt in expect for name, at in cuts.items()]
    every += [Case(f"truncated-strict-{fmt}-{name}", f"cut.{fmt}", cut(fmt, at),
                   ANY if at < 0 else flag + r".*refused \(strict\)", reader=STRICT)
              for fmt in ("csv", "tsv") for name, at in cuts.items()]
    every += [
        Case("truncated-csv-short-last-row-strict", "cut.csv", const("a,b,c\n1,2,3\n4,5"),
             r"line 3\) is cut off: it has 2 of 3 fields.*refused \(strict\)", reader=STRICT),
        Case("truncated-csv-open-quote-strict", "cut.csv", const('a,b,c\n1,2,3\n4,5,"ab\ncd'),
             r"a quoted cell is still open.*refused \(strict\)", reader=STRICT),
        Case("truncated-csv-only-a-cut-row", "cut.csv", const("a,b,c\n1,2"), r"line 2\) is cut off"),
    ]
    return every


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _xlsx_members() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(base_bytes("xlsx"))) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _with_sheet(sheet: bytes) -> bytes:
    return _zip({**_xlsx_members(), "xl/worksheets/sheet1.xml": sheet})


def _sheet_xml(rows: str) -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            b'spreadsheetml/2006/main"><sheetData>' + rows.encode("utf-8") + b"</sheetData></worksheet>")


def _xml_bomb() -> bytes:
    entities = '<!ENTITY a0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    return (f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]><worksheet xmlns="http://schemas.'
            'openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
            '&a9;</t></is></c></row></sheetData></worksheet>').encode()


def _lying_zip() -> bytes:
    """A member whose header says 10 bytes while it holds a megabyte."""
    data = bytearray(_zip({"xl/worksheets/sheet1.xml": b"<a/>" * 250_000}, zipfile.ZIP_STORED))
    central = data.rfind(b"PK\x01\x02")
    data[central + 24:central + 28] = (10).to_bytes(4, "little")  # the central directory's uncompressed size
    return bytes(data)


def zip_attacks() -> list[Case]:
    bad_xlsx = r"not a readable xlsx file|cannot read sheet|every sheet is empty|unreadable|larger than its header"
    wide_row = "".join(f'<c r="{_column_name(i)}1" t="inlineStr"><is><t>h{i}</t></is></c>' for i in range(10_001))
    long_cell = '<row r="1"><c r="A1" t="inlineStr"><is><t>h</t></is></c></row><row r="2"><c r="A2" ' \
                f't="inlineStr"><is><t>{"x" * 150_000}</t></is></c></row>'
    return [
        Case("zip-bomb-xlsx-sheet", "bomb.xlsx", lambda: _zip({"xl/worksheets/sheet1.xml": b"<row/>" * (3 << 20)}),
             "possible zip bomb"),
        Case("zip-bomb-xlsx-shared-strings", "bomb.xlsx",
             lambda: _zip({**_xlsx_members(), "xl/sharedStrings.xml": b" " * (20 << 20)}), "possible zip bomb"),
        Case("zip-bomb-documents", "bomb.zip", lambda: _zip({"a.txt": b"a" * (20 << 20)}), "possible zip bomb"),
        Case("zip-lying-header-xlsx", "lying.xlsx", _lying_zip, ANY),
        Case("zip-unsafe-member-name", "evil.xlsx", lambda: _zip({**_xlsx_members(), "../../evil.txt": b"x"}),
             "unsafe member name '../../evil.txt'"),
        Case("zip-absolute-member-name", "evil.zip", lambda: _zip({"/etc/passwd.txt": b"x"}), "unsafe member name"),
        Case("zip-empty", "empty.xlsx", lambda: _zip({}), bad_xlsx),
        Case("zip-no-workbook", "nobook.xlsx", lambda: _zip({"hello.txt": b"hi"}), bad_xlsx),
        Case("zip-nested-zip", "nested.xlsx", lambda: _zip({"inner.xlsx": base_bytes("xlsx")}), bad_xlsx),
        Case("xlsx-sheet-xml-garbage", "garbage.xlsx", lambda: _with_sheet(junk_bytes(3, 4096)), bad_xlsx),
        Case("xlsx-sheet-xml-entity-bomb", "entities.xlsx", lambda: _with_sheet(_xml_bomb()), ANY),
        Case("xlsx-10001-columns", "wide.xlsx", lambda: _with_sheet(_sheet_xml(f'<row r="1">{wide_row}</row>')),
             r"10,001 columns; the limit is 10,000"),
        Case("xlsx-cell-150k-chars", "cell.xlsx", lambda: _with_sheet(_sheet_xml(long_cell)),
             r"row 1, column 'h': a cell of 150,000 characters"),
        Case("xlsx-renamed-csv", "sheet.csv", lambda: base_bytes("xlsx"), "this is a zip/xlsx file, not a text table"),
        Case("xlsx-every-sheet-empty", "blank.xlsx", lambda: frame_bytes(pd.DataFrame(), "xlsx"),
             "every sheet is empty"),
        Case("xlsx-no-such-sheet", "data.xlsx", lambda: base_bytes("xlsx"), r"no sheet 'Sheet9'",
             options={"sheet": "Sheet9"}),
        Case("xlsx-sheet-index-out-of-range", "data.xlsx", lambda: base_bytes("xlsx"), "no sheet number 7",
             options={"sheet": 7}),
        Case("xls-old-excel", "old.xls", lambda: junk_bytes(4, 2048), "old Excel .xls files are not supported"),
    ]


def _column_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def huge() -> list[Case]:
    line_error = r"the line is [\d,]+ bytes long; the limit is 1,048,576 \(MOFANG_DATA_MAX_LINE_BYTES"
    wide_header = ",".join(f"c{i}" for i in range(10_001))
    small_rows = {"MOFANG_DATA_MAX_ROWS": "10"}
    long_cell = "y" * 150_000
    return [
        Case("huge-6mb-single-line-csv", "line.csv", lambda: ",".join(f"c{i}" for i in range(700_000)).encode()[
            :6_000_000], line_error),
        Case("huge-6mb-one-cell-csv", "cell.csv", const("a,b\n1," + "x" * 6_000_000 + "\n"), line_error),
        Case("huge-2mb-line-tsv", "line.tsv", const("a\tb\n" + "z" * (2 << 20) + "\n"), line_error),
        Case("huge-2mb-line-jsonl", "line.jsonl", const('{"a": "' + "z" * (2 << 20) + '"}\n'), line_error),
        Case("huge-binary-no-line-break", "blob.csv", lambda: junk_bytes(5, 3 << 20, newlines=False), line_error),
        Case("huge-10001-columns-csv", "wide.csv", const(wide_header + "\n" + ",".join("1" * 10_001) + "\n"),
             r"10,001 columns; the limit is 10,000 \(MOFANG_DATA_MAX_COLUMNS"),
        Case("huge-20000-columns-header-only", "wide.csv", const(",".join(f"c{i}" for i in range(20_000))),
             r"20,000 columns"),
        Case("huge-2000-columns-ok", "wide.csv", const(",".join(f"c{i}" for i in range(2000)) + "\n"
                                                       + ",".join("7" * 2000) + "\n"), OK),
        Case("huge-10001-columns-json", "wide.json", const(json.dumps({f"c{i}": [1] for i in range(10_001)})),
             "10,001 columns"),
        Case("huge-10001-keys-jsonl", "wide.jsonl", const(json.dumps({f"c{i}": 1 for i in range(10_001)}) + "\n"),
             "10,001 columns"),
        Case("huge-10001-columns-parquet", "wide.parquet",
             lambda: frame_bytes(pd.DataFrame({f"c{i}": [1] for i in range(10_001)}), "parquet"), "10,001 columns"),
        Case("huge-cell-quoted-multiline", "cell.csv", const('a,b\n1,"' + "y\n" * 75_000 + '"\n'),
             r"row 1, column 'b': a cell of 150,000 characters; the limit is 100,000"),
        Case("huge-cell-one-line", "cell.csv", const(f"a,b\n1,{long_cell}\n"), r"column 'b': a cell of 150,000"),
        Case("huge-cell-json", "cell.json", const(json.dumps([{"a": 1}, {"a": long_cell}])),
             r"row 2, column 'a': a cell of 150,000"),
        Case("huge-cell-parquet", "cell.parquet", lambda: frame_bytes(pd.DataFrame({"a": ["x", long_cell]}),
                                                                      "parquet"), r"row 2, column 'a'"),
        Case("huge-rows-csv", "tall.csv", const("a,b\n" + "1,2\n" * 30), r"more than 10 data rows; the limit is 10",
             env=small_rows),
        Case("huge-rows-jsonl", "tall.jsonl", const('{"a": 1}\n' * 30), r"30 data rows; the limit is 10",
             env=small_rows),
        Case("huge-rows-parquet", "tall.parquet", lambda: frame_bytes(pd.DataFrame({"a": range(30)}), "parquet"),
             r"30 data rows", env=small_rows),
        Case("huge-rows-xlsx", "tall.xlsx", lambda: frame_bytes(pd.DataFrame({"a": range(30)}), "xlsx"),
             r"more than 10 data rows", env=small_rows),
        Case("huge-file-size", "big.csv", lambda: base_bytes("csv"), r"the file is [\d,]+ bytes; the limit is 1,000",
             env={"MOFANG_DATA_MAX_FILE_BYTES": "1000"}),
        Case("huge-many-short-rows-ok", "rows.csv", const("a,b\n" + "1,2\n" * 50_000), OK),
        Case("huge-bad-limit-variable", "data.csv", lambda: base_bytes("csv"),
             "MOFANG_DATA_MAX_ROWS must be a positive whole number", env={"MOFANG_DATA_MAX_ROWS": "lots"}),
    ]


def nesting() -> list[Case]:
    deep = r"JSON nested [\d,]+ levels deep; at most 64 are read"
    return [
        Case("nesting-100k-brackets-json", "deep.json", const("[" * 100_000 + "]" * 100_000), deep),
        Case("nesting-100k-objects-json", "deep.json", const('{"a":' * 100_000 + "1" + "}" * 100_000), deep),
        Case("nesting-100k-unclosed-json", "deep.json", const("[" * 100_000), deep),
        Case("nesting-deep-line-jsonl", "deep.jsonl", const('{"a": 1}\n{"a": ' + "[" * 5000 + "]" * 5000 + "}\n"),
             r"row 2: JSON nested"),
        Case("nesting-65-levels", "deep.json", const('[{"a": ' + "[" * 63 + "]" * 63 + "}]"), deep),
        Case("nesting-30-levels-ok", "deep.json", const('[{"a": ' + "[" * 30 + "1" + "]" * 30 + "}]"), OK),
        Case("nesting-brackets-in-strings-ok", "deep.json", const(json.dumps([{"a": "[" * 100_000}])), ANY),
        Case("nesting-unbalanced-closers", "deep.json", const("]" * 1000), r"not valid JSON"),
        Case("nesting-yaml-like-json", "deep.json", const("a: [1, 2]\n"), r"not valid JSON"),
    ]


def wrong_types() -> list[Case]:
    not_a_table = r"JSON must be JSON lines, a list of objects"
    cases = [
        Case("types-json-number", "t.json", const("42"), not_a_table + r".*a single int"),
        Case("types-json-string", "t.json", const('"hello"'), not_a_table),
        Case("types-json-null", "t.json", const("null"), not_a_table),
        Case("types-json-true", "t.json", const("true"), not_a_table),
        Case("types-json-list-of-numbers", "t.json", const("[1, 2, 3]"), not_a_table + r".*a list of int"),
        Case("types-json-list-of-lists", "t.json", const("[[1, 2], [3, 4]]"), not_a_table),
        Case("types-json-mixed-list", "t.json", const('[{"a": 1}, 2]'), not_a_table),
        Case("types-json-object-of-scalars", "t.json", const('{"a": 1, "b": 2}'), not_a_table),
        Case("types-json-grouped-ok", "t.json", const('{"x": [[1, 2]], "y": [{"v": 3}], "z": []}'), OK),
        Case("types-json-key-clash", "t.json", const('{"x": [{"key": 1}], "y": [2, 3]}'), r"their own 'key' field"),
        Case("types-json-records-nested-ok", "t.json", const('[{"a": {"b": [1, 2]}, "c": null}, {"a": 1}]'), OK),
        Case("types-json-mixed-value-types-ok", "t.json", const('[{"a": 1}, {"a": "x"}, {"a": true}, {"a": 1.5}]'),
             OK),
        Case("types-jsonl-array-line", "t.jsonl", const('{"a": 1}\n[1, 2]\n'), r"row 2: each JSON line must be an"),
        Case("types-jsonl-number-line", "t.jsonl", const('{"a": 1}\n7\n'), r"row 2: each JSON line must be an"),
        Case("types-jsonl-broken-line", "t.jsonl", const('{"a": 1}\n{"a": \n{"a": 3}\n'), r"row 2: not valid JSON"),
        Case("types-jsonl-forced-on-json", "t.json", lambda: base_bytes("json"), r"not valid JSON|each JSON line",
             options={"format": "jsonl"}),
        Case("types-csv-forced-as-parquet", "t.csv", lambda: base_bytes("csv"), r"not a readable parquet file",
             options={"format": "parquet"}),
        Case("types-parquet-forced-as-xlsx", "t.parquet", lambda: base_bytes("parquet"),
             r"not a readable xlsx file", options={"format": "xlsx"}),
        Case("types-xlsx-forced-as-json", "t.xlsx", lambda: base_bytes("xlsx"), r"this is a zip/xlsx file",
             options={"format": "json"}),
        Case("types-documents-on-a-file", "t.csv", lambda: base_bytes("csv"), r"format documents needs a folder",
             options={"format": "documents"}),
    ]
    frames = {
        "nested-lists": pd.DataFrame({"a": [[1, 2], [3]], "b": [{"x": 1}, {"x": 2}]}),
        "binary": pd.DataFrame({"a": [b"\x00\x01", b"\xff"]}),
        "timestamps-tz": pd.DataFrame({"a": pd.date_range("2024-01-01", periods=2, tz="Asia/Shanghai")}),
        "categorical": pd.DataFrame({"a": pd.Categorical(["x", "y"])}),
        "all-null": pd.DataFrame({"a": [None, None], "b": [1, 2]}),
        "non-string-columns": pd.DataFrame({1: ["x", "y"], 2.5: ["z", "w"]}).rename(columns=str),
    }
    cases += [Case(f"types-parquet-{name}", "t.parquet", lambda f=frame: frame_bytes(f, "parquet"), OK)
              for name, frame in frames.items()]
    xlsx_frames = {
        "dates-bools": pd.DataFrame({"d": pd.to_datetime(["2024-01-01", "2024-02-03"]), "b": [True, False]}),
        "numbers-as-text-mix": pd.DataFrame({"a": [1, "x"], "b": [1.5, None]}),
    }
    cases += [Case(f"types-xlsx-{name}", "t.xlsx", lambda f=frame: frame_bytes(f, "xlsx"), OK)
              for name, frame in xlsx_frames.items()]
    return cases


def empty() -> list[Case]:
    empty_msg = r"empty|no data rows"
    every = [Case(f"empty-zero-bytes-{fmt}", f"empty.{fmt}", const(b""), r"the file is empty \(0 bytes\)")
             for fmt in ("csv", "tsv", "json", "jsonl", "xlsx", "parquet", "txt")]
    every += [Case(f"empty-whitespace-{fmt}", f"blank.{fmt}", const(" \n\t\n  \r\n"), empty_msg + "|not valid JSON")
              for fmt in ("csv", "tsv", "json", "jsonl", "txt")]
    every += [
        Case("empty-header-only-csv", "h.csv", const("a,b,c\n"), r"no data rows \(only a header\)"),
        Case("empty-header-only-no-newline", "h.csv", const("a,b,c"), r"no data rows \(only a header\)"),
        Case("empty-header-only-tsv", "h.tsv", const("a\tb\tc\n"), r"no data rows"),
        Case("empty-header-only-xlsx", "h.xlsx", lambda: frame_bytes(pd.DataFrame(columns=["a", "b"]), "xlsx"),
             r"every sheet is empty"),
        Case("empty-header-only-parquet", "h.parquet",
             lambda: frame_bytes(pd.DataFrame({"a": pd.Series([], dtype=str)}), "parquet"), r"no data rows"),
        Case("empty-json-list", "e.json", const("[]"), r"JSON must be|no data rows"),
        Case("empty-json-object", "e.json", const("{}"), r"JSON must be|no data rows"),
        Case("empty-json-object-of-empty-lists", "e.json", const('{"a": [], "b": []}'), r"no data rows"),
        Case("empty-jsonl-blank-lines", "e.jsonl", const("\n\n\n"), empty_msg),
        Case("empty-bom-only", "e.csv", const(b"\xef\xbb\xbf"), empty_msg),
        Case("empty-newlines-only", "e.csv", const("\n" * 1000), empty_msg),
        Case("empty-separators-only", "e.csv", const(",,,\n,,,\n"), ANY),
        Case("empty-documents-zip", "docs.zip", lambda: _zip({}), r"no documents"),
        Case("empty-documents-zip-of-images", "docs.zip", lambda: _zip({"a.png": b"\x89PNG"}), r"no documents"),
    ]
    return every


def headers() -> list[Case]:
    return [
        Case("headers-duplicated-csv", "d.csv", const("a,a,b\n1,2,3\n"), OK),
        Case("headers-duplicated-case", "d.csv", const("a,A,b\n1,2,3\n"), OK),
        Case("headers-blank-names", "d.csv", const(",,b\n1,2,3\n"), OK),
        Case("headers-duplicated-xlsx", "d.xlsx", lambda: _with_sheet(_sheet_xml(
            '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1" t="inlineStr"><is><t>a</t></is></c>'
            '</row><row r="2"><c r="A2"><v>1</v></c><c r="B2"><v>2</v></c></row>')), OK),
        Case("headers-duplicated-json-keys", "d.json", const('[{"a": 1, "a": 2}]'), OK),
        Case("headers-bom-in-every-name", "d.csv", const("\ufeffa,\ufeffb\n1,2\n"), OK),
        Case("headers-very-long-name", "d.csv", const("x" * 50_000 + ",b\n1,2\n"), OK),
        Case("headers-duplicate-after-strip", "d.csv", const("a, a,a \n1,2,3\n"), OK),
        Case("headers-duplicate-after-bom", "d.csv", const("a,\ufeffa\n1,2\n"), OK),
        Case("headers-duplicate-after-strip-xlsx", "d.xlsx", lambda: frame_bytes(
            pd.DataFrame([[1, 2]], columns=["a", " a"]), "xlsx"), OK),
    ]


def nul_bytes() -> list[Case]:
    nul = r"binary data \(a NUL byte at offset \d+\), not text"
    text = base_bytes("csv")
    return [
        Case("nul-at-start-csv", "n.csv", const(b"\x00" + text), nul),
        Case("nul-in-middle-csv", "n.csv", const(text[:100] + b"\x00" + text[100:]), nul),
        Case("nul-in-jsonl", "n.jsonl", const(b'{"a": 1}\n{"a": "\x00"}\n'), nul),
        Case("nul-in-tsv", "n.tsv", const(b"a\tb\n1\t\x002\n"), nul),
        Case("nul-after-64k", "n.csv", const(b"a,b\n" + b"1,2\n" * 20_000 + b"3,\x00\n"), r"row 20002: " + nul),
        Case("nul-behind-utf16-bom", "n.csv", const(b"\xff\xfe" + b"a\x00,\x00b\x00\n\x00\x00\x00"), r"NUL character"),
        Case("nul-escaped-in-json-ok", "n.json", const('[{"a": "x\\u0000y"}]'), OK),
    ]


def junk() -> list[Case]:
    magic = {"png": (b"\x89PNG\r\n\x1a\n", "a PNG image"), "pdf": (b"%PDF-1.7\n", "a PDF file"),
             "gzip": (b"\x1f\x8b\x08\x00", "a gzip archive"), "sqlite": (b"SQLite format 3\x00", "an SQLite database"),
             "parquet": (b"PAR1", "a parquet file"), "jpeg": (b"\xff\xd8\xff\xe0", "a JPEG image")}
    every = [Case(f"junk-{name}-named-csv", f"junk-{name}.csv", const(head + junk_bytes(11, 2048)),
                  f"this is {what}, not a text table") for name, (head, what) in magic.items()]
    text = r"cannot detect the text encoding|binary data"
    json_text = f"{text}|not valid JSON"
    expect = {"csv": text, "tsv": text, "txt": text, "json": json_text, "jsonl": json_text,
              "xlsx": r"not a readable xlsx file",
              "parquet": r"not a readable parquet file", "zip": r"not a readable zip archive",
              "tar.gz": r"not a readable tar archive"}
    every += [Case(f"junk-random-{seed}-{fmt}", f"junk.{fmt}", const(junk_bytes(seed, nul=bool(seed % 2))),
                   expect[fmt]) for seed in (1, 2, 3) for fmt in expect]
    every.append(Case("junk-gzipped-csv", "data.csv", lambda: _gzip(base_bytes("csv")), "this is a gzip archive"))
    return every


def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data, mtime=0)


def csv_structure() -> list[Case]:
    return [
        Case("csv-extra-fields", "s.csv", const("a,b,c\n1,2,3\n4,5,6,7,8\n"), r"row 3: expected 3 fields.*saw 5"),
        Case("csv-extra-fields-late", "s.csv", const("a,b\n" + "1,2\n" * 5000 + "1,2,3\n"), r"row 5002: expected 2"),
        Case("csv-stray-quote-mid-file", "s.csv", const('a,b\n1,"2\n' + "3,4\n" * 300_000), r"never closed"),
        Case("csv-quote-in-unquoted-field", "s.csv", const('a,b\n1,2"x"\n3,4\n'), OK),
        Case("csv-mixed-separators", "s.csv", const("a,b;c\n1,2;3\n4;5,6\n"), ANY),
        Case("csv-cr-only-line-endings", "s.csv", const("a,b\r1,2\r3,4\r"), OK),
        Case("csv-cr-only-long-file-ok", "s.csv", const("a,b\r" + "1,2\r" * 400_000), OK),
        Case("csv-cr-only-cut-row", "s.csv", const("a,b,c\r1,2,3\r4,5"), OK),
        Case("csv-crlf-ok", "s.csv", const("a,b\r\n1,2\r\n3,4\r\n"), OK),
        Case("csv-many-blank-lines", "s.csv", const("a,b\n" + "\n" * 10_000 + "1,2\n"), OK),
        Case("csv-single-column-ok", "s.csv", const("a\n1\n2\n"), OK),
        Case("csv-semicolon-decimal-comma", "s.csv", const("a;b\n1,5;2,5\n3,0;4,1\n"), OK),
        Case("csv-pipe-separated", "s.csv", const("a|b\n1|2\n"), OK),
        Case("csv-trailing-separators", "s.csv", const("a,b,\n1,2,\n"), OK),
        Case("csv-header-with-quoted-newline", "s.csv", const('"a\nb",c\n1,2\n'), ANY),
        Case("csv-declared-separator-wrong", "s.csv", const("a,b\n1,2\n"), ANY, options={"separator": "|"}),
        Case("csv-html-page", "s.csv", const("<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table>"), ANY),
        Case("csv-only-quotes", "s.csv", const('"""""""\n'), ANY),
    ]


def _tar(members: dict[str, bytes]) -> bytes:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def documents() -> list[Case]:
    """Folders' archives of documents (one text row per file)."""
    text = {"a/one.txt": "第一篇文档。".encode(), "b/two.md": b"# Two\n\nsecond"}
    return [
        Case("docs-broken-docx", "docs.zip", lambda: _zip({**text, "bad.docx": junk_bytes(41, 512)}),
             r"docs\.zip \[bad\.docx\]: not a readable docx file"),
        Case("docs-broken-pdf", "docs.zip", lambda: _zip({**text, "bad.pdf": b"%PDF-1.7\n" + junk_bytes(42, 512)}),
             r"bad\.pdf"),
        Case("docs-member-name-markup", "docs.zip", lambda: _zip({**text, "a[/]b.docx": b"junk"}),
             r"docs\.zip \[a\[/\]b\.docx\]: not a readable docx file"),
        Case("docs-binary-txt", "docs.zip", lambda: _zip({**text, "c.txt": b"\x00" + junk_bytes(43, 512)}),
             r"c\.txt.*binary data"),
        Case("docs-gbk-txt-ok", "docs.zip", lambda: _zip({**text, "c.txt": "中文文档内容".encode("gbk")}), OK),
        Case("docs-tar-truncated", "docs.tar.gz", lambda: _tar(text)[:-30], r"not a readable tar archive"),
        Case("docs-tar-unsafe-name", "docs.tar.gz", lambda: _tar({**text, "../../up.txt": b"x"}),
             r"unsafe member name '\.\./\.\./up\.txt'"),
        Case("docs-zip-truncated", "docs.zip", lambda: _zip(text)[:-30], r"not a readable zip archive"),
        Case("docs-only-system-files", "docs.zip", lambda: _zip({"__MACOSX/._a.txt": b"x", ".DS_Store": b"x"}),
             r"no documents"),
    ]


# -- orders ---------------------------------------------------------------------------------------------------------

NO_GATE = "acceptance: none\n"  # a placed order states its gate: these orders ask for none
ORDER_HEAD = "id: loans-1\ntenant: acme\ntask: tabular-classification\ntarget: 是否违约\n" + NO_GATE
DATA = "data:\n  - path: loans.csv\n"
LOANS = {"loans.csv": lambda: base_bytes("csv")}


def _order(text: str, expect: str, name: str, **fields: object) -> Case:
    return Case(f"order-{name}", "order.yaml", const(text), expect, reader=ORDER, extra=LOANS, **fields)


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return ORDER_HEAD + DATA + "\n".join(lines) + "\n"


def orders() -> list[Case]:
    wrong = {
        "id-number": ("id: loans-1", "id: 123"), "id-list": ("id: loans-1", "id: [a, b]"),
        "id-path-traversal": ("id: loans-1", "id: ../../etc"), "tenant-mapping": ("tenant: acme", "tenant: {a: 1}"),
        "task-number": ("task: tabular-classification", "task: 5"),
        "task-unknown": ("task: tabular-classification", "task: tabular-clasification"),
        "target-list": ("target: 是否违约", "target: [a, b]"),
    }
    every = [_order(ORDER_HEAD.replace(old, new) + DATA, r"order\.yaml:\d+: ", f"wrong-type-{name}")
             for name, (old, new) in wrong.items()]
    bodies = {
        "data-string": ("data: loans.csv\n", r"data"), "data-list-of-numbers": ("data: [1, 2]\n", r"data"),
        "data-empty": ("data: []\n", r"data"), "data-mapping": ("data: {path: loans.csv}\n", ANY),
        "data-both-path-and-url": ("data:\n  - path: loans.csv\n    url: sqlite://\n", r"exactly one of"),
        "data-unknown-key": ("data:\n  - pth: loans.csv\n", r"unknown key 'pth'"),
        "data-strict-key": ("data:\n  - path: loans.csv\n    strict: yes\n", ANY),  # valid once the schema has it
        "columns-deny-string": (DATA + "columns:\n  deny: 备注\n", r"columns"),
        "columns-unknown-key": (DATA + "columns:\n  denny: [备注]\n", r"unknown key 'denny'"),
        "budget-minutes-text": (DATA + "budget:\n  minutes: ten\n", r"minutes"),
        "budget-minutes-negative": (DATA + "budget:\n  minutes: -5\n", r"greater than 0"),
        "seed-text": (DATA + "seed: x\n", r"seed"), "unknown-top-key": (DATA + "tagret: y\n", r"unknown key 'tagret'"),
        "retention-huge": (DATA + "retention_days: 1e999\n", r"retention_days"),
    }
    every += [_order(ORDER_HEAD + body, expect if expect == ANY else f"order\\.yaml.*(?:{expect})", name)
              for name, (body, expect) in bodies.items()]
    gates = {
        "acceptance-missing": ("", r"no acceptance section.*or write 'acceptance: none'"),
        "acceptance-string": ("acceptance: high\n", r"acceptance"),
        "acceptance-bad-comparison": ("acceptance:\n  metrics:\n    roc_auc: '>= banana'\n",
                                      r"not a comparison|roc_auc"),
    }
    every += [_order(ORDER_HEAD.replace(NO_GATE, "") + DATA + body, f"order\\.yaml.*(?:{expect})", name)
              for name, (body, expect) in gates.items()]
    syntax = {
        "tabs": (ORDER_HEAD + "data:\n\t- path: loans.csv\n", r"not valid YAML"),
        "unclosed-bracket": (ORDER_HEAD + "data: [\n", r"not valid YAML"),
        "python-tag": (ORDER_HEAD + DATA + "x: !!python/object/apply:os.system ['echo hi']\n", r"not valid YAML"),
        "a-list": ("- id: loans-1\n- tenant: acme\n", r"an order is a YAML mapping"),
        "a-scalar": ("just text\n", r"an order is a YAML mapping"),
        "empty": ("", r"an order is a YAML mapping|empty"),
        "only-comments": ("# nothing\n", r"an order is a YAML mapping|empty"),
        "duplicate-keys": (ORDER_HEAD + DATA + "target: 是否违约\n", OK),
        "alias-reused-source": (ORDER_HEAD + "data:\n  - &s {path: loans.csv}\n  - *s\n", OK),
        "merge-key": (ORDER_HEAD + "base: &b {path: loans.csv}\ndata:\n  - <<: *b\n", r"unknown key 'base'"),
        "huge-string": (ORDER_HEAD + DATA + "description: " + "x" * (1 << 20) + "\n", ANY),
        "10k-unknown-keys": (ORDER_HEAD + DATA + "".join(f"k{i}: {i}\n" for i in range(10_000)), r"unknown key"),
    }
    every += [_order(text, expect if expect in (OK, ANY) else f"order\\.yaml.*(?:{expect})", f"syntax-{name}")
              for name, (text, expect) in syntax.items()]
    every += [
        Case("order-not-utf8", "order.yaml", lambda: (ORDER_HEAD + DATA).encode("gbk"), r"not UTF-8 text",
             reader=ORDER),
        Case("order-binary-junk", "order.yaml", const(junk_bytes(21, 4096)), r"order\.yaml", reader=ORDER),
        Case("order-nul-bytes", "order.yaml", const((ORDER_HEAD + "\x00" + DATA).encode()), r"order\.yaml",
             reader=ORDER),
        _order(_bomb(9), r"order\.yaml", "yaml-bomb-billion-laughs", timeout=5),
        _order(ORDER_HEAD + "data: &d\n  - path: loans.csv\n  - *d\n", r"order\.yaml", "yaml-recursive-alias-data"),
        _order(ORDER_HEAD.replace("id: loans-1", "id: &i [*i]") + DATA, r"order\.yaml", "yaml-recursive-alias-id"),
    ]
    return every


def admitted() -> list[Case]:
    """Orders whose data is malformed: refused at admission (`check_sources`) with the data file named."""
    def over(name: str, data: Callable[[], bytes], expect: str, filename: str = "loans.csv") -> Case:
        text = ORDER_HEAD + f"data:\n  - path: {filename}\n"
        return Case(f"admit-{name}", "order.yaml", const(text), expect, reader=ADMIT, extra={filename: data})

    return [
        over("6mb-single-line", lambda: b"x," * 3_000_000, r"loans\.csv, row 1: the line is 6,000,000 bytes long"),
        over("binary-junk", lambda: junk_bytes(31), r"loans\.csv.*cannot detect the text encoding|binary data"),
        over("deep-json", lambda: b"[" * 100_000, r"loans\.json: JSON nested", "loans.json"),
        over("target-missing", lambda: b"a,b\n1,2\n3,4\n", r"the target column '是否违约' is not in the data"),
        over("one-class", lambda: "a,是否违约\n1,0\n2,0\n".encode(), r"at least 2 distinct values"),
        over("cut-last-row", lambda: base_bytes("csv")[:-40], OK),
        over("xlsx-bomb", lambda: _zip({"xl/worksheets/sheet1.xml": b"<row/>" * (3 << 20)}), "possible zip bomb",
             "loans.xlsx"),
    ]
