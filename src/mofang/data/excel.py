"""Excel connector: one sheet (the first non-empty by default) or all sheets with one header stacked."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.limits import Limits, check_shape, limits
from mofang.data.missing import blank_missing, to_text
from mofang.data.safety import open_zip

ALL_SHEETS = "*"
REPORT_ROWS = 1000  # a sheet says how far it is every this many rows read


def read_excel(path: Path, sheet: str | int | None, limit: Limits | None = None, *,
               on_read: Callable[[float], None] | None = None) -> tuple[pd.DataFrame, dict]:
    """Read an .xlsx as strings; `sheet` is a name, an index, '*' (all sheets) or None (first non-empty).

    Empty rows (sheets are often padded with thousands) and empty unnamed columns are dropped.
    Rows and columns are checked against `limit` (default: `limits()`) while the sheet is read.
    Returns the frame and the read info (format, sheets read, empty sheets skipped). `on_read` hears the share of
    the sheets to read that is read, by rows (of the size each sheet declares).
    """
    label = str(path)
    limit = limit or limits()
    if path.suffix.lower() == ".xls":
        raise DataError("old Excel .xls files are not supported; save the sheet as .xlsx", source=label)
    open_zip(path, label, "xlsx file").close()  # refuse a zip bomb before openpyxl inflates anything
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, key and value errors for corrupt files
        raise DataError(f"not a readable xlsx file ({type(exc).__name__}: {exc})", source=label) from None
    try:
        names = list(book.sheetnames)
        if sheet == ALL_SHEETS:
            return _stack_sheets(book, names, label, limit, on_read)
        if sheet is None:
            for index, name in enumerate(names):
                frame = _sheet_frame(book, name, label, limit, _share_of(on_read, index, len(names)))
                if frame is not None:
                    return frame, {"format": "xlsx", "sheets": [name]}
            raise DataError(f"every sheet is empty ({', '.join(names)})", source=label)
        name = _sheet_name(sheet, names, label)
        frame = _sheet_frame(book, name, label, limit, on_read)
        if frame is None:
            raise DataError(f"sheet '{name}' is empty", source=label)
        return frame, {"format": "xlsx", "sheets": [name]}
    finally:
        book.close()


def _share_of(on_read: Callable[[float], None] | None, index: int,
              count: int) -> Callable[[float], None] | None:
    """Progress of sheet `index` of `count` as a share of them all."""
    if on_read is None:
        return None
    return lambda share: on_read((index + share) / count)


def _stack_sheets(book: Any, names: list[str], label: str, limit: Limits,
                  on_read: Callable[[float], None] | None = None) -> tuple[pd.DataFrame, dict]:
    frames: list[pd.DataFrame] = []
    read, empty = [], []
    for index, name in enumerate(names):
        frame = _sheet_frame(book, name, label, limit, _share_of(on_read, index, len(names)))
        if frame is None:
            empty.append(name)
            continue
        if frames and set(frame.columns) != set(frames[0].columns):
            only_here = sorted(set(frame.columns) - set(frames[0].columns))
            only_first = sorted(set(frames[0].columns) - set(frame.columns))
            raise DataError(f"sheet: '*' stacks sheets with the same header, but sheet '{name}' differs from "
                            f"sheet '{read[0]}': only in '{name}': {only_here or 'none'}, only in '{read[0]}': "
                            f"{only_first or 'none'}; name one sheet instead", source=label)
        frames.append(frame[list(frames[0].columns)] if frames else frame)
        read.append(name)
        check_shape(sum(map(len, frames)), 0, label, limit)
    if not frames:
        raise DataError(f"every sheet is empty ({', '.join(names)})", source=label)
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return data, {"format": "xlsx", "sheets": read, "empty_sheets": empty}


def _sheet_name(sheet: str | int, names: list[str], label: str) -> str:
    if isinstance(sheet, int):
        if not 0 <= sheet < len(names):
            raise DataError(f"no sheet number {sheet}; the file has {len(names)}", source=label)
        return names[sheet]
    if sheet not in names:
        close = difflib.get_close_matches(sheet, names, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise DataError(f"no sheet '{sheet}'{hint} (sheets: {', '.join(names)})", source=label)
    return sheet


def _sheet_frame(book: Any, name: str, label: str, limit: Limits,
                 on_read: Callable[[float], None] | None = None) -> pd.DataFrame | None:
    """The sheet's rows under its first non-empty row as header; None when the sheet has no data rows."""
    try:
        rows = _filled_rows(book[name], label, limit, on_read)
    except DataError:
        raise
    except Exception as exc:  # a broken sheet XML inside a valid zip
        raise DataError(f"cannot read sheet '{name}' ({type(exc).__name__}: {exc})", source=label) from None
    if len(rows) < 2:
        return None
    width = max(len(row) for row in rows)
    header = _header(rows[0], width)
    body = [[None if v is None else to_text(v) for v in row] + [None] * (width - len(row)) for row in rows[1:]]
    frame = blank_missing(pd.DataFrame(body, columns=header, dtype=object))
    empty = [c for c in frame.columns if c.startswith("Unnamed:") and frame[c].isna().all()]
    frame = frame.drop(columns=empty).dropna(how="all")
    return frame if len(frame) else None


def _filled_rows(sheet: Any, label: str, limit: Limits,
                 on_read: Callable[[float], None] | None = None) -> list[tuple]:
    """The rows holding a value (the header among them); refused as soon as they pass the row limit or a
    value sits beyond the column limit. `on_read` hears the share read of the rows the sheet declares."""
    rows: list[tuple] = []
    declared = _declared_rows(sheet) if on_read is not None else 0
    for number, row in enumerate(_rows(sheet), start=1):
        if on_read is not None and declared and number % REPORT_ROWS == 0:
            on_read(min(1.0, number / declared))
        width = _filled_width(row)
        if width:
            rows.append(row)
            check_shape(len(rows) - 1, width, label, limit, row=number)
    return rows


def _filled_width(row: tuple) -> int:
    """One past the last cell holding a value (0 for an empty row); scanned from the end, where it usually is."""
    for i in range(len(row) - 1, -1, -1):
        value = row[i]
        if value is not None and str(value).strip():
            return i + 1
    return 0


def _declared_rows(sheet: Any) -> int:
    """The rows the sheet's writer says it has (its dimension; 0 when it says none); read before the sheet is."""
    try:
        return int(sheet.max_row or 0)
    except Exception:  # noqa: BLE001 - a missing or odd dimension: no progress, the rows are still read
        return 0


def _rows(sheet: Any) -> Iterator[tuple]:
    sheet.reset_dimensions()  # some writers record a wrong size; read every row that is there
    yield from sheet.iter_rows(values_only=True)


def _header(cells: tuple, width: int) -> list[str]:
    """Header names as pandas makes them: 'Unnamed: i' for blanks, '.1', '.2' for repeats."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i in range(width):
        value = cells[i] if i < len(cells) else None
        name = f"Unnamed: {i}" if value is None or not str(value).strip() else to_text(value).strip()
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names
