"""Read-only inspection of a file, folder, archive or database table: format, encoding and a profile per column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.connectors import read_source
from mofang.data.pii import scan_table
from mofang.data.sources import ReadMeter, ReadProgress
from mofang.data.types import infer_kind
from mofang.orders.schema import Source

SAMPLES = 3
SAMPLE_CHARS = 40


def inspect_target(target: str, *, table: str | None = None, query: str | None = None,
                   on_read: ReadProgress | None = None) -> dict[str, Any]:
    """Read `target` (a path, or an SQLAlchemy URL with `table` or `query`) without changing anything and
    describe it: label, format, encoding, separator, rows, read details, per column its inferred kind,
    missing ratio, distinct count and up to 3 sample values (each cut to 40 characters; masked where the
    column holds personal data), and the PII scan per column. `on_read(done, total, note)` hears the bytes read
    while the file is read, then (total None) what is done with them."""
    source = source_for(target, table=table, query=query)
    meter = ReadMeter([source], on_read) if on_read is not None else None
    frame = read_source(source, on_read=meter.source(0) if meter is not None else None)
    if on_read is not None:
        on_read(len(frame), None, f"rows read; profiling {frame.shape[1]} columns and scanning them for personal data")
    info = dict(frame.attrs.get("source", {}))
    details = {k: v for k, v in info.items() if k not in ("label", "format", "encoding", "separator", "denied")}
    pii = scan_table(frame)
    columns = [profile_column(name, frame[name]) for name in frame.columns]
    for column in columns:  # an inspection never prints raw personal data: PII samples are masked ones
        found = pii.get(column["name"])
        if found is not None:
            column["samples"] = found.get("examples") or [e for k in found.get("kinds", {}).values()
                                                          for e in k["examples"]][:SAMPLES]
    if on_read is not None:
        on_read(len(frame), None, f"rows read, {frame.shape[1]} columns profiled and scanned for personal data")
    return {"target": info.get("label", target), "format": info.get("format"), "encoding": info.get("encoding"),
            "separator": info.get("separator"), "rows": len(frame), "details": details, "columns": columns,
            "pii": pii}


def source_for(target: str, *, table: str | None = None, query: str | None = None) -> Source:
    """The Source for a path or an SQLAlchemy URL (a URL needs exactly one of table or query)."""
    is_url = "://" in target and not Path(target).exists()
    if not is_url:
        if table or query:
            raise DataError("--table/--query belong to a database URL, not a file", source=target)
        return Source(path=Path(target))
    if (table is None) == (query is None):
        raise DataError("a database URL needs exactly one of a table or a query", source=target)
    return Source(url=target, table=table, query=query)


def profile_column(name: str, values: pd.Series) -> dict[str, Any]:
    """Kind, missing ratio, distinct count and a few distinct sample values of one string column."""
    present = values.dropna()
    samples = [_cut(str(v)) for v in present.drop_duplicates().head(SAMPLES)]
    return {"name": name, "kind": infer_kind(values), "missing_ratio": round(1 - len(present) / max(1, len(values)), 4),
            "distinct": int(present.nunique()), "samples": samples}


def _cut(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SAMPLE_CHARS else flat[:SAMPLE_CHARS - 1] + "…"
