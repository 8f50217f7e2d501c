"""Connectors: read a Source (csv/tsv/xlsx/parquet/json/jsonl/documents/SQL) into a frame of string columns."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.documents import is_document_source, read_documents
from mofang.data.encoding import decode
from mofang.data.excel import read_excel
from mofang.data.jsontables import parse_json
from mofang.data.limits import Limits, check_cells, check_file_size, check_lines, check_shape, limits
from mofang.data.missing import blank_missing, stringify
from mofang.data.sql import clean_header, read_sql
from mofang.data.truncation import EOF_IN_QUOTE, cut_last_row, last_record
from mofang.orders.schema import Source

SEPARATORS = (",", ";", "\t", "|")
_SUFFIXES = {".csv": "csv", ".txt": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx",
             ".xls": "xls", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl",
             ".json": "json"}
Granted = Callable[[str], bool]
Reading = Callable[[float], None]  # the share of a source read so far, 0 to 1 (a file's bytes parsed, rows...)
_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def read_source(source: Source, granted: Granted | None = None, *, strict: bool | None = None,
                on_read: Reading | None = None) -> pd.DataFrame:
    """Read one source with every column as strings (missing values as None).

    `granted(column)` says which columns may be read (minimal authorization): Parquet and SQL never load
    the others (SQL does not even select them); text, Excel, JSON and document files drop them right after
    parsing (a CSV is parsed whole so that a broken row is still caught).
    `frame.attrs["source"]` describes what was read: label, format, encoding, separator, denied columns, and
    per format the sheets read or the files skipped, and `warnings` (e.g. a last row cut off and dropped).
    Raises DataError naming the source (and the row where it can) for anything unreadable or over the limits
    (`mofang.data.limits`). `strict` (default: the source's own `strict`, else False) refuses a file whose last
    row is cut off instead of dropping the row with a warning. `on_read(share)` hears how much of the source is
    read while it is read (a CSV's or JSON lines' text parsed, a Parquet file's bytes, an Excel sheet's rows, a
    folder's documents), ending with 1.0.
    """
    allowed: Granted = granted or (lambda _column: True)
    strict = source.strict if strict is None else strict
    limit = limits(source.label)
    if source.url is not None:
        frame, info = read_sql(source, allowed, limit)
    else:
        frame, info = _read_file(source, Path(source.path or ""), allowed, limit, strict, on_read or _unheard)
    if on_read is not None:
        on_read(1.0)
    check_shape(len(frame), frame.shape[1], source.label, limit)
    if info.get("format") != "documents":  # a document is one long text by nature (archive limits: safety.py)
        check_cells(frame, source.label, limit, total_chars=info.pop("chars", None))
    frame.columns = unique_headers([clean_header(c) for c in frame.columns])
    denied = info.pop("denied", []) + [c for c in frame.columns if not allowed(c)]
    frame = frame.drop(columns=[c for c in frame.columns if not allowed(c)])
    info["denied"] = denied
    if len(frame) == 0:
        raise DataError("no data rows (only a header)", source=source.label)
    frame = frame.reset_index(drop=True)
    frame.attrs["source"] = {"label": source.label, **info}
    return frame


def unique_headers(names: list[str]) -> list[str]:
    """Column names made unique the way pandas does it ('a', 'a.1', 'a.2'): names that differed only by spaces
    or a BOM, or a query selecting a column twice, would otherwise give a frame two columns of one name."""
    if len(set(names)) == len(names):
        return names
    seen: set[str] = set()
    unique = []
    for name in names:
        new, suffix = name, 0
        while new in seen:
            suffix += 1
            new = f"{name}.{suffix}"
        seen.add(new)
        unique.append(new)
    return unique


def file_format(path: Path) -> str:
    """The format a file or folder is read as, from its suffix (a folder or an archive: documents)."""
    if is_document_source(path):
        return "documents"
    return _SUFFIXES.get(path.suffix.lower(), "csv")


def _unheard(_share: float) -> None:
    """Progress nobody listens to."""


def _read_file(source: Source, path: Path, allowed: Granted, limit: Limits,
               strict: bool, on_read: Reading) -> tuple[pd.DataFrame, dict]:
    label = str(path)
    if not path.exists():
        raise DataError("file not found", source=label)
    fmt = source.format or file_format(path)
    if fmt == "documents":
        if not is_document_source(path):
            raise DataError("format documents needs a folder or a .zip/.tar.gz/.tgz/.tar archive", source=label)
        return read_documents(path, on_read=on_read)
    if not path.is_file():
        raise DataError("not a file; a folder is read as documents (txt, md, html, docx, pdf)", source=label)
    size = path.stat().st_size
    if size == 0:
        raise DataError("the file is empty (0 bytes); no data rows", source=label)
    check_file_size(size, label, limit)
    if fmt in ("csv", "tsv"):
        return _read_delimited(source, path, fmt, limit, strict, on_read)
    if fmt in ("xlsx", "xls"):
        if fmt == "xls":
            raise DataError("old Excel .xls files are not supported; save the sheet as .xlsx", source=label)
        return read_excel(path, source.sheet, limit, on_read=on_read)
    if fmt == "parquet":
        return _read_parquet(path, allowed, limit, on_read)
    return _read_json(source, path, fmt, limit, on_read)


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


def _read_delimited(source: Source, path: Path, fmt: str, limit: Limits, strict: bool,
                    on_read: Reading = _unheard) -> tuple[pd.DataFrame, dict]:
    label = str(path)
    data = path.read_bytes()
    check_lines(data, label, limit)  # before decoding, sniffing or parsing: a huge line costs them minutes
    decoded = decode(data, source.encoding, source=label)
    text, encoding = decoded.text, decoded.encoding
    if not text.strip():
        raise DataError("the file is empty; no data rows", source=label)
    sep = source.separator or ("\t" if fmt == "tsv" else sniff_separator(text))
    width = _header_width(text, sep)
    check_shape(0, width, label, limit, row=1)
    info = {"format": fmt, "encoding": encoding, "separator": sep, "chars": len(text)}
    open_quote = False
    try:
        frame = _parse_delimited(text, sep, limit, on_read)
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty; no data rows", source=label) from None
    except pd.errors.ParserError as exc:
        if EOF_IN_QUOTE not in str(exc):
            raise _parser_error(exc, fmt, sep, label) from None
        text, open_quote = _close_quote(text, label, limit), True
        try:
            frame = _parse_delimited(text, sep, limit, on_read)
        except pd.errors.ParserError as again:
            raise _parser_error(again, fmt, sep, label) from None
    check_shape(len(frame), frame.shape[1], label, limit)
    cut = cut_last_row(text, sep, frame.shape[1], open_quote=open_quote, cut_character=decoded.cut)
    if cut is not None:
        if strict or len(frame) == 1:
            raise DataError(f"{cut.describe()}; refused{' (strict)' if strict else ''}", source=label, row=cut.line)
        frame = frame.iloc[:-1]
        info["warnings"] = [f"{cut.describe()}; that row was dropped (strict: true refuses such a file)"]
    return blank_missing(frame), info


def _parse_delimited(text: str, sep: str, limit: Limits, on_read: Reading = _unheard) -> pd.DataFrame:
    """Every column as text, at most one row over the row limit (so that the limit can name what it saw);
    `on_read` hears the share of the text parsed as the parser takes it in (chunks of 256k characters)."""
    return pd.read_csv(_ReadingText(text, on_read), sep=sep, dtype=str, keep_default_na=False, na_values=[], engine="c",
                       nrows=limit.rows + 1)  # all columns: a broken row must still be caught


class _ReadingText(io.StringIO):
    """The text as a stream that says how much of it was read: the parser reads it chunk by chunk."""

    def __init__(self, text: str, on_read: Reading) -> None:
        super().__init__(text)
        self._on_read, self._length, self._taken = on_read, max(1, len(text)), 0

    def read(self, size: int | None = -1, /) -> str:
        chunk = super().read(size)
        self._taken += len(chunk)
        self._on_read(min(1.0, self._taken / self._length))
        return chunk


class _ReadingFile(io.FileIO):
    """A binary file that says what share of its bytes was read (Parquet reads the column chunks it needs)."""

    def __init__(self, path: Path, on_read: Reading) -> None:
        super().__init__(path, "rb")
        self._on_read, self._size, self._taken = on_read, max(1, path.stat().st_size), 0

    def read(self, size: int = -1, /) -> bytes:
        data = super().read(size)
        self._count(len(data))
        return data

    def readinto(self, buffer: Any, /) -> int | None:
        count = super().readinto(buffer)
        self._count(count or 0)
        return count

    def _count(self, count: int) -> None:
        self._taken += count
        self._on_read(min(1.0, self._taken / self._size))


def _header_width(text: str, sep: str) -> int:
    """The number of fields of the first line (the header), counted before the file is parsed."""
    first = _LINE_BREAK.split(text, maxsplit=1)[0]
    try:
        return len(next(csv.reader([first], delimiter=sep), []))
    except csv.Error:  # a quote the header line leaves open: the parser will say more
        return first.count(sep) + 1


def _close_quote(text: str, label: str, limit: Limits) -> str:
    """The text with the quote left open at its end closed, when the open quote sits in its last record; a quote
    opened further up (it would swallow more than a line's worth of the file) is refused."""
    closed = text + '"'
    record, line = last_record(closed)
    if len(record) > limit.line_bytes:
        raise DataError(f"a quote opened on line {line:,} is never closed: the rest of the file "
                        f"({len(record):,} characters) would be one cell; close the quote or fix the file",
                        source=label, row=line)
    return closed


def _parser_error(exc: pd.errors.ParserError, fmt: str, sep: str, label: str) -> DataError:
    match = _FIELDS.search(str(exc))
    if match:
        expected, line, saw = match.groups()
        return DataError(f"expected {expected} fields (separator {sep!r}), saw {saw}", source=label, row=int(line))
    return DataError(f"cannot parse as {fmt}: {str(exc).strip()}", source=label)


def _read_parquet(path: Path, allowed: Granted, limit: Limits,
                  on_read: Reading = _unheard) -> tuple[pd.DataFrame, dict]:
    label = str(path)
    try:
        import pyarrow.parquet as pq

        meta = pq.read_metadata(path)
        names = meta.schema.to_arrow_schema().names
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for corrupt files
        raise DataError(f"not a readable parquet file ({type(exc).__name__}: {exc})", source=label) from None
    check_shape(meta.num_rows, len(names), label, limit)  # from the footer, before any column is read
    try:
        with _ReadingFile(path, on_read) as stream:
            frame = pd.read_parquet(stream, columns=[n for n in names if allowed(clean_header(n))])
    except Exception as exc:
        raise DataError(f"not a readable parquet file ({type(exc).__name__}: {exc})", source=label) from None
    denied = [clean_header(n) for n in names if not allowed(clean_header(n))]
    return stringify(frame), {"format": "parquet", "denied": denied}


def _read_json(source: Source, path: Path, fmt: str, limit: Limits,
               on_read: Reading = _unheard) -> tuple[pd.DataFrame, dict]:
    label = str(path)
    data = path.read_bytes()
    if fmt == "jsonl":
        check_lines(data, label, limit)
    decoded = decode(data, source.encoding, source=label)
    # a character cut off at the end: invalid JSON
    frame, info = parse_json(decoded.text, fmt, label, limit, on_read=on_read)
    return frame, {**info, "encoding": decoded.encoding, "chars": len(decoded.text)}
