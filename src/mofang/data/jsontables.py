"""JSON connector: JSON lines, a list of records, an object of columns, or an object of record lists."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from mofang.core.errors import DataError
from mofang.data.limits import Limits, check_shape, limits
from mofang.data.missing import stringify

KEY_COLUMN = "key"
MAX_DEPTH = 64  # nesting levels of JSON read (a table's records need two or three; 100,000 exhausts the parser)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_STEP = np.zeros(256, dtype=np.int32)  # a byte's change of the nesting depth
_STEP[[ord("["), ord("{")]], _STEP[[ord("]"), ord("}")]] = 1, -1
REPORT_CHARS = 1 << 20  # JSON lines say how far they are every this many characters parsed


def nesting_depth(text: str) -> int:
    """How deep brackets nest in JSON text (brackets inside strings do not count), without parsing it."""
    depth = _bracket_depth(text)
    return _bracket_depth(_STRING.sub('""', text)) if depth > MAX_DEPTH else depth  # strings only when it matters


def _bracket_depth(text: str) -> int:
    code = np.frombuffer(text.encode("utf-8", "replace"), dtype=np.uint8)
    return int(np.cumsum(_STEP[code]).max()) if len(code) else 0


def _loads(text: str, label: str, row: int | None = None) -> Any:
    """json.loads with the nesting checked first: too deep is a DataError naming the limit, never a crash."""
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise DataError(f"JSON nested {depth:,} levels deep; at most {MAX_DEPTH} are read", source=label, row=row)
    try:
        return json.loads(text)
    except RecursionError:  # the limit is below the parser's; kept so no input can crash it
        raise DataError(f"JSON nested too deep to read (more than {MAX_DEPTH} levels)", source=label,
                        row=row) from None


def parse_json(text: str, fmt: str, label: str, limit: Limits | None = None, *,
               on_read: Callable[[float], None] | None = None) -> tuple[pd.DataFrame, dict]:
    """Rows from JSON text; `fmt` 'jsonl' forces JSON lines, otherwise lines are recognised by their shape.

    Layouts: JSON lines of objects; a list of objects; an object of equal-length columns; an object of
    lists of records (e.g. {"series-a": [[start, end], ...]}), one row per item with its key in 'key'.
    Rows and columns are checked against `limit` (default: `limits()`) before the frame is built. `on_read`
    hears the share of JSON lines parsed as they are (a JSON document is parsed in one go).
    """
    limit = limit or limits()
    if fmt == "jsonl" or _looks_like_lines(text):
        return stringify(_records(_lines(text, label, on_read), label, limit)), {"format": "jsonl"}
    try:
        data = _loads(text, label)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc.msg})", source=label, row=exc.lineno) from None
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return stringify(_records(data, label, limit)), {"format": "json", "layout": "records"}
    if isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        lengths = {len(v) for v in data.values()}
        nested = any(isinstance(item, dict | list) for v in data.values() for item in v)
        if len(lengths) == 1 and not nested:
            check_shape(lengths.pop(), len(data), label, limit)
            return stringify(pd.DataFrame(data, dtype=object)), {"format": "json", "layout": "columns"}
        check_shape(sum(len(v) for v in data.values()), 0, label, limit)
        return stringify(_grouped(data, label, limit)), {"format": "json", "layout": "grouped",
                                                         "keys": len(data),
                                                         "empty_keys": sum(not v for v in data.values())}
    raise DataError("JSON must be JSON lines, a list of objects (rows), an object of equal-length columns, "
                    f"or an object of lists (one row per item); this is {_shape(data)}", source=label)


def _records(records: list[dict], label: str, limit: Limits) -> pd.DataFrame:
    """A frame of records, their count and the keys they use in all checked first."""
    check_shape(len(records), len(set().union(*records)) if records else 0, label, limit)
    return pd.DataFrame(records, dtype=object)


def _lines(text: str, label: str, on_read: Callable[[float], None] | None = None) -> list[dict]:
    records = []
    length, taken, told = max(1, len(text)), 0, 0
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: U+2029 may sit inside strings
        taken += len(line) + 1
        if on_read is not None and taken - told >= REPORT_CHARS:
            told = taken
            on_read(min(1.0, taken / length))
        if not line.strip():
            continue
        try:
            record = _loads(line, label, number)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg})", source=label, row=number) from None
        if not isinstance(record, dict):
            raise DataError("each JSON line must be an object of column: value", source=label, row=number)
        records.append(record)
    return records


def _grouped(data: dict[str, list], label: str, limit: Limits) -> pd.DataFrame:
    """One row per list item: objects give their fields, lists value_1..value_n, scalars 'value'."""
    rows: list[dict[str, Any]] = []
    for key, items in data.items():
        for item in items:
            if isinstance(item, dict):
                fields = item
            elif isinstance(item, list):
                fields = {f"value_{i}": v for i, v in enumerate(item, start=1)}
            else:
                fields = {"value": item}
            if KEY_COLUMN in fields:
                raise DataError(f"items under '{key}' have their own '{KEY_COLUMN}' field; "
                                "write the file as a list of objects", source=label)
            rows.append({KEY_COLUMN: key, **fields})
    if not rows:
        raise DataError(f"every list in the JSON object is empty ({len(data)} keys); no data rows", source=label)
    return _records(rows, label, limit)


def _shape(data: object) -> str:
    if isinstance(data, list):
        kinds = sorted({type(item).__name__ for item in data[:100]}) or ["nothing"]
        return f"a list of {'/'.join(kinds)}"
    if isinstance(data, dict):
        kinds = sorted({type(value).__name__ for value in data.values()}) or ["nothing"]
        return f"an object of {'/'.join(kinds)}"
    return f"a single {type(data).__name__}"


def _looks_like_lines(text: str) -> bool:
    first = text.lstrip().split("\n", 1)
    return len(first) > 1 and first[0].rstrip().endswith("}") and first[1].lstrip().startswith("{")
