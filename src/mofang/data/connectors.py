"""Connectors: read a Source (csv/tsv/xlsx/parquet/json/jsonl/SQL) into a frame of string columns."""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from mofang.data.encoding import decode_text
from mofang.data.missing import blank_missing, stringify
from mofang.errors import DataError
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
    the others (SQL does not even select them); text, Excel and JSON files drop them right after parsing
    (a CSV is parsed whole so that a broken row is still caught).
    `frame.attrs["source"]` describes what was read: label, format, encoding, separator, denied columns.
    Raises DataError naming the source (and the row where it can) for anything unreadable.
    """
    allowed: Granted = granted or (lambda _column: True)
    if source.url is not None:
        frame, info = _read_sql(source, allowed)
    else:
        path = Path(source.path or "")
        label = str(path)
        if not path.exists():
            raise DataError("file not found", source=label)
        if not path.is_file():
            raise DataError("not a file", source=label)
        if path.stat().st_size == 0:
            raise DataError("the file is empty (0 bytes); no data rows", source=label)
        fmt = source.format or _SUFFIXES.get(path.suffix.lower(), "csv")
        if fmt in ("csv", "tsv"):
            frame, info = _read_delimited(source, path, fmt, allowed)
        elif fmt in ("xlsx", "xls"):
            frame, info = _read_excel(source, path, fmt), {"format": fmt}
        elif fmt == "parquet":
            frame, info = _read_parquet(path, allowed)
        else:
            frame, info = _read_json(source, path, fmt)
    frame.columns = [_clean_header(c) for c in frame.columns]
    denied = info.pop("denied", []) + [c for c in frame.columns if not allowed(c)]
    frame = frame.drop(columns=[c for c in frame.columns if not allowed(c)])
    info["denied"] = denied
    if len(frame) == 0:
        raise DataError("no data rows (only a header)", source=source.label)
    frame = frame.reset_index(drop=True)
    frame.attrs["source"] = {"label": source.label, **info}
    return frame


def _granted_query(conn: Any, query: str, allowed: Granted) -> tuple[str, list[str]]:
    """The order's query wrapped so that only granted columns leave the database; and its columns."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    inner = query.strip().rstrip(";")
    try:
        names = list(conn.execute(text(f"SELECT * FROM ({inner}) AS mofang_q WHERE 1 = 0")).keys())
    except SQLAlchemyError:  # a query this database will not nest: run it as written, drop columns after
        conn.rollback()
        return inner, []
    if all(allowed(_clean_header(n)) for n in names):
        return inner, names
    quote = conn.dialect.identifier_preparer.quote
    kept = [quote(n) for n in names if allowed(_clean_header(n))] or ["1 AS no_granted_column"]
    return f"SELECT {', '.join(kept)} FROM ({inner}) AS mofang_q", names


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


def _clean_header(name: object) -> str:
    return str(name).replace("\ufeff", "").strip()


def _read_delimited(source: Source, path: Path, fmt: str, allowed: Granted) -> tuple[pd.DataFrame, dict]:
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


def _read_excel(source: Source, path: Path, fmt: str) -> pd.DataFrame:
    label = str(path)
    if fmt == "xls":
        raise DataError("old Excel .xls files are not supported; save the sheet as .xlsx", source=label)
    sheet = source.sheet if source.sheet is not None else 0
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises zip, key and value errors for corrupt files
        raise DataError(f"not a readable xlsx file ({type(exc).__name__}: {exc})", source=label) from None
    with book:
        names = book.sheet_names
        if isinstance(sheet, str) and sheet not in names:
            close = difflib.get_close_matches(sheet, names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise DataError(f"no sheet '{sheet}'{hint} (sheets: {', '.join(names)})", source=label)
        if isinstance(sheet, int) and not 0 <= sheet < len(names):
            raise DataError(f"no sheet number {sheet}; the file has {len(names)}", source=label)
        try:
            frame = book.parse(sheet, dtype=str, keep_default_na=False, na_values=[])
        except Exception as exc:
            raise DataError(f"cannot read the sheet ({type(exc).__name__}: {exc})", source=label) from None
    frame = blank_missing(frame)
    frame = frame.dropna(how="all")  # sheets are often padded with thousands of empty rows
    empty_cols = [c for c in frame.columns if str(c).startswith("Unnamed:") and frame[c].isna().all()]
    return frame.drop(columns=empty_cols)


def _read_parquet(path: Path, allowed: Granted) -> tuple[pd.DataFrame, dict]:
    try:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        frame = pd.read_parquet(path, columns=[n for n in names if allowed(_clean_header(n))])
        denied = [_clean_header(n) for n in names if not allowed(_clean_header(n))]
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for corrupt files
        raise DataError(f"not a readable parquet file ({type(exc).__name__}: {exc})",
                        source=str(path)) from None
    return stringify(frame), {"format": "parquet", "denied": denied}


def _read_json(source: Source, path: Path, fmt: str) -> tuple[pd.DataFrame, dict]:
    label = str(path)
    text, encoding = decode_text(path.read_bytes(), source.encoding, source=label)
    lines = fmt == "jsonl" or _looks_like_lines(text)
    if lines:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"not valid JSON ({exc.msg})", source=label, row=number) from None
            if not isinstance(record, dict):
                raise DataError("each JSON line must be an object of column: value", source=label,
                                row=number)
            records.append(record)
        frame = pd.DataFrame(records, dtype=object)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg})", source=label, row=exc.lineno) from None
        if isinstance(data, list) and all(isinstance(r, dict) for r in data):
            frame = pd.DataFrame(data, dtype=object)
        elif isinstance(data, dict):
            frame = pd.DataFrame(data, dtype=object)
        else:
            raise DataError("JSON must be a list of objects (rows) or an object of columns", source=label)
    return stringify(frame), {"format": "jsonl" if lines else "json", "encoding": encoding}


def _looks_like_lines(text: str) -> bool:
    first = text.lstrip().split("\n", 1)
    return len(first) > 1 and first[0].rstrip().endswith("}") and first[1].lstrip().startswith("{")


def _read_sql(source: Source, allowed: Granted) -> tuple[pd.DataFrame, dict]:
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    label = source.label
    try:
        engine = create_engine(source.url or "")
    except Exception as exc:  # ArgumentError, NoSuchModuleError, missing driver
        raise DataError(f"bad database URL ({type(exc).__name__}: {exc})", source=label) from None
    try:
        with engine.connect() as conn:
            if source.table:
                schema, _, name = source.table.rpartition(".")
                inspector = inspect(conn)
                if not inspector.has_table(name, schema=schema or None):
                    tables = inspector.get_table_names(schema=schema or None)
                    close = difflib.get_close_matches(name, tables, n=1)
                    hint = f"; did you mean '{close[0]}'?" if close else ""
                    listed = ", ".join(tables[:20]) or "none"
                    raise DataError(f"no table '{source.table}'{hint} (tables: {listed})", source=label)
                names = [c["name"] for c in inspector.get_columns(name, schema=schema or None)]
                frame = pd.read_sql_table(name, conn, schema=schema or None,
                                          columns=[c for c in names if allowed(_clean_header(c))])
            else:
                query, names = _granted_query(conn, source.query or "", allowed)
                frame = pd.read_sql(text(query), conn)
    except DataError:
        raise
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DataError(f"database error: {detail}", source=label) from None
    finally:
        engine.dispose()
    denied = [_clean_header(n) for n in names if not allowed(_clean_header(n))]
    return stringify(frame), {"format": "sql", "denied": denied}
