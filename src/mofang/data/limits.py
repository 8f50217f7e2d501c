"""The limits on what a data source may hold where it enters the data workshop, in one place.

Each limit has a documented default and an environment variable that overrides it (docs/data.md). A source over a
limit is refused with a DataError naming the file, the line or row, the limit and how to raise it, before the
expensive parsing starts wherever the format allows: a 6 MB single-line CSV ends in an error in well under a
second instead of keeping the parser busy for minutes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from mofang.core.errors import DataError

CHUNK_BYTES = 16 << 20  # bytes scanned at a time for line breaks (bounds the scan's own memory)


@dataclass(frozen=True)
class Limits:
    """What one source may hold. Every field is overridden by `MOFANG_DATA_MAX_<FIELD>` (an integer)."""

    file_bytes: int = 1 << 30  # 1 GiB: a file is read whole into memory (the archive limit too: safety.py)
    line_bytes: int = 1 << 20  # 1 MiB: one physical line of a CSV/TSV/JSON lines file
    rows: int = 10_000_000  # data rows of one source
    columns: int = 10_000  # columns of one source (Excel's own maximum is 16,384)
    cell_chars: int = 100_000  # characters of one cell; a longer text belongs in a documents folder
    image_pixels: int = 50_000_000  # pixels of one image read by OCR (a TIFF's frames together; A4 at 600 dpi is 35 M)
    ocr_pages: int = 10_000  # pages of one documents source read by OCR (about a second each on one CPU)

    def env_name(self, field: str) -> str:
        """The environment variable that overrides `field`."""
        return f"MOFANG_DATA_MAX_{field.upper()}"


def limits(source: str | None = None) -> Limits:
    """The limits in force: the defaults, each overridden by its environment variable when set (a bad value is
    a DataError naming `source`, the file about to be read)."""
    base = Limits()
    values = {}
    for spec in fields(Limits):
        name = base.env_name(spec.name)
        raw = os.environ.get(name, "").strip()
        if not raw:
            continue
        try:
            value = int(raw)  # 1_000_000 reads too
        except ValueError:
            raise DataError(f"{name} must be a positive whole number; it is {raw!r}", source=source) from None
        if value <= 0:
            raise DataError(f"{name} must be a positive whole number; it is {value}", source=source)
        values[spec.name] = value
    return Limits(**values)


def over(limit: Limits, field: str, what: str) -> str:
    """The common tail of a limit's message: the limit, and how to raise it."""
    return f"{what}; the limit is {getattr(limit, field):,} ({limit.env_name(field)} raises it)"


def check_file_size(size: int, label: str, limit: Limits) -> None:
    """Refuse a file over `file_bytes` before reading it."""
    if size > limit.file_bytes:
        raise DataError(over(limit, "file_bytes", f"the file is {size:,} bytes"), source=label)


def check_lines(data: bytes, label: str, limit: Limits) -> None:
    """Refuse a text file with a physical line over `line_bytes` (lines end with LF, or CR in a file without
    any LF), naming the first such line."""
    width, size = limit.line_bytes, len(data)
    if size <= width:
        return
    newline = 10 if b"\n" in data else 13  # a file of old Mac line breaks (CR only) has no LF at all
    previous, line = -1, 1  # the offset of the last line break seen, and the number of the line after it
    for offset in range(0, size, CHUNK_BYTES):
        chunk = np.frombuffer(data, dtype=np.uint8, count=min(CHUNK_BYTES, size - offset), offset=offset)
        ends = np.flatnonzero(chunk == newline) + offset
        if len(ends):
            lengths = np.diff(ends, prepend=previous) - 1
            too_long = np.flatnonzero(lengths > width)
            if len(too_long):
                first = int(too_long[0])
                _line_too_long(line + first, int(lengths[first]), label, limit)
            line, previous = line + len(ends), int(ends[-1])
        if offset + len(chunk) - previous - 1 > width:  # the line under way is already too long: end it here
            end = data.find(bytes((newline,)), previous + 1)
            _line_too_long(line, (size if end < 0 else end) - previous - 1, label, limit)


def _line_too_long(line: int, length: int, label: str, limit: Limits) -> None:
    raise DataError(over(limit, "line_bytes", f"the line is {length:,} bytes long"), source=label, row=line)


def check_shape(rows: int, columns: int, label: str, limit: Limits, *, row: int | None = None) -> None:
    """Refuse more rows or columns than the limits allow (a reader that stops at `rows + 1` passes that); `row`
    names the row whose width is checked, where the reader knows it."""
    if columns > limit.columns:
        raise DataError(over(limit, "columns", f"{columns:,} columns"), source=label, row=row)
    if rows > limit.rows:
        counted = f"more than {limit.rows:,}" if rows == limit.rows + 1 else f"{rows:,}"
        raise DataError(over(limit, "rows", f"{counted} data rows"), source=label)


def check_cells(frame: pd.DataFrame, label: str, limit: Limits, *, total_chars: int | None = None) -> None:
    """Refuse a cell longer than `cell_chars`, naming its data row (1 = the first row under the header) and
    column. `total_chars`, the size of the text the frame came from, skips the scan when no cell can be over."""
    if total_chars is not None and total_chars <= limit.cell_chars:
        return
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position].to_numpy()
        if values.dtype != object or not len(values):
            continue
        try:
            longest = max(map(len, filter(None, values)), default=0)  # cells are str or None: the fast way
        except TypeError:  # a value without a length
            longest = max((len(v) for v in values if isinstance(v, str)), default=0)
        if longest > limit.cell_chars:
            index = next(i for i, v in enumerate(values) if isinstance(v, str) and len(v) > limit.cell_chars)
            raise DataError(over(limit, "cell_chars", f"a cell of {len(values[index]):,} characters"),
                            source=label, row=index + 1, column=str(column))
