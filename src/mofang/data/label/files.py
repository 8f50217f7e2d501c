"""Label files people edit in Excel: CSV written as UTF-8 with a BOM and CRLF, cells that Excel would run as a
formula escaped with a leading quote (and unescaped on the way back), read in any Chinese encoding."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mofang.core.errors import DataError
from mofang.data.connectors import sniff_separator
from mofang.data.encoding import decode_text

LABEL_COLUMNS = ("id", "label")
# a cell starting with one of these runs as a formula in Excel: exported cells get a leading apostrophe
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(record: list[str], at: int) -> str:
    return record[at] if at < len(record) else ""


def escape(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def unescape(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def write_csv(path: Path, header: Sequence[str], rows: list[list[Any]]) -> Path:
    """Write a CSV Excel reads as UTF-8 (BOM, CRLF), atomically (a temporary file renamed into place)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([escape(cell) for cell in row] for row in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(buffer.getvalue(), encoding="utf-8-sig", newline="")
    os.replace(temporary, path)
    return path


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    """The header and the records of a CSV in any encoding and separator; a clear DataError when unreadable."""
    if not path.is_file():
        raise DataError("file not found", source=str(path))
    text, _encoding = decode_text(path.read_bytes(), source=str(path))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_separator(text))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise DataError(f"not a readable CSV: {exc}", source=str(path), row=reader.line_num) from None
    if not rows:
        raise DataError("the file is empty", source=str(path))
    return rows[0], rows[1:]


def read_labels(path: str | Path) -> dict[str, str]:
    """A labels CSV (id, label) as id → label; rows with a blank label are skipped."""
    path = Path(path)
    header, records = read_csv(path)
    columns = {name.strip().lower(): k for k, name in enumerate(header)}
    if any(c not in columns for c in LABEL_COLUMNS):
        raise DataError(f"a labels file needs the columns id and label (found: {', '.join(header)})",
                        source=str(path))
    labels = {}
    for record in records:
        key = unescape(cell(record, columns["id"]).strip())
        label = unescape(cell(record, columns["label"]).strip())
        if key and label:
            labels[key] = label
    return labels
