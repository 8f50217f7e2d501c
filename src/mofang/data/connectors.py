"""Connectors: read a Source (csv/tsv/xlsx/parquet/json/jsonl/documents/SQL) into a frame of string columns."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.documents import is_document_source, read_documents
from mofang.data.encoding import decode_text
from mofang.data.excel import read_excel
from mofang.data.jsontables import parse_json
from mofang.data.missing import blank_missing, stringify
from mofang.data.sql import clean_header, read_sql
from mofang.orders.schema import Source

SEPARATORS = (",", ";", "\t", "|")
_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx",
             ".xls": "xls", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl",
             ".json": "json"}
Granted = Callable[[str], bool]
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def read_source(source: Source, granted: Granted | None = None) -> pd.DataFrame:
    """Read one source with every column as strings (missing values as None).

    `granted(column)` says which columns may be read (minimal authorization): Parquet and SQL never load
    the others (SQL does not even select them); text, Excel, JSON and document files drop them right after
    parsing (a CSV is parsed whole so that a broken row is still caught).
    `frame.attrs["source"]` describes what was read: label, format, encoding, separator, denied columns, and
    per format the sheets read or the files skipped.
    Raises DataError naming the source (and the row where it can) for anything unreadable.
    """
    allowed: Granted = granted or (lambda _column: True)
    if source.url is not None:
        frame, info = read_sql(source, allowed)
    else:
        frame, info = _read_file(source, Path(source.path or ""), allowed)
    frame.columns = [clean_header(c) for c in frame.columns]
    denied = info.pop("denied", []) + [c for c in frame.columns if not allowed(c)]
    frame = frame.drop(columns=[c for c in frame.columns if not allowed(c)])
    info["denied"] = denied
    if len(frame) == 0:
        raise DataError("no data rows (only a header)", source=source.label)
    frame = frame.reset_index(drop=True)
    frame.attrs["source"] = {"label": source.label, **info}
    return frame


def file_format(path: Path) -> str:
    """The format a file or folder is read as, from its suffix (a folder or an archive: documents)."""
    if is_document_source(path):
        return "documents"
    return _SUFFIXES.get(path.suffix.lower(), "csv")


def _read_file(source: Source, path: Path, allowed: Granted) -> tuple[pd.DataFrame, dict]:
    label = str(path)
    if not path.exists():
        raise DataError("file not found", source=label)
    fmt = source.format or file_format(path)
    if fmt == "documents":
        if not is_document_source(path):
            raise DataError("format documents needs a folder or a .zip/.tar.gz/.tgz/.tar archive", source=label)
        return read_documents(path)
    if not path.is_file():
        raise DataError("not a file; a folder is read as documents (txt, md, html, docx, pdf)", source=label)
    if path.stat().st_size == 0:
        raise DataError("the file is empty (0 bytes); no data rows", source=label)
    if fmt in ("csv", "tsv"):
        return _read_delimited(source, path, fmt)
    if fmt in ("xlsx", "xls"):
        if fmt == "xls":
            raise DataError("old Excel .xls files are not supported; save the sheet as .xlsx", source=label)
        return read_excel(path, source.sheet)
    if fmt == "parquet":
        return _read_parquet(path, allowed)
    return _read_json(source, path, fmt)


def sniff_separator(text: str) -> str:
    """Pick the separator among , ; TAB | that splits the first lines into the most consistent fields."""
    lines = [line for line in text[:65536].splitlines()[:50] if line.strip()]
    if len(lines) > 1 and not text[:65536].endswith(("\n", "\r")):
        lines = lines[:-1]  # the last sampled line may be cut in the middle
    best, best_score = ",", (0.0, 0)
    for sep in SEPARATORS:
        counts = [len(row) for row in csv.reader(lines, delimiter=sep)]
        if not counts or counts[0] < 2:
            continue
        consistency = sum(c == counts[0] for c in counts) / len(counts)
        score = (round(consistency, 2), counts[0])
        if score > best_score:
            best, best_score = sep, score
    return best


def _read_delimited(source: Source, path: Path, fmt: str) -> tuple[pd.DataFrame, dict]:
    label = str(path)
    text, encoding = decode_text(path.read_bytes(), source.encoding, source=label)
    if not text.strip():
        raise DataError("the file is empty; no data rows", source=label)
    sep = source.separator or ("\t" if fmt == "tsv" else sniff_separator(text))
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[],
                            engine="c")  # all columns: a broken row must still be caught
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty; no data rows", source=label) from None
    except pd.errors.ParserError as exc:
        match = _FIELDS.search(str(exc))
        if match:
            expected, line, saw = match.groups()
            raise DataError(f"expected {expected} fields (separator {sep!r}), saw {saw}", source=label,
                            row=int(line)) from None
        raise DataError(f"cannot parse as {fmt}: {str(exc).strip()}", source=label) from None
    return blank_missing(frame), {"format": fmt, "encoding": encoding, "separator": sep}


def _read_parquet(path: Path, allowed: Granted) -> tuple[pd.DataFrame, dict]:
    try:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        frame = pd.read_parquet(path, columns=[n for n in names if allowed(clean_header(n))])
        denied = [clean_header(n) for n in names if not allowed(clean_header(n))]
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for corrupt files
        raise DataError(f"not a readable parquet file ({type(exc).__name__}: {exc})",
                        source=str(path)) from None
    return stringify(frame), {"format": "parquet", "denied": denied}


def _read_json(source: Source, path: Path, fmt: str) -> tuple[pd.DataFrame, dict]:
    label = str(path)
    text, encoding = decode_text(path.read_bytes(), source.encoding, source=label)
    frame, info = parse_json(text, fmt, label)
    return frame, {**info, "encoding": encoding}
