"""Read all of an order's sources, stacked and limited to granted columns; the intake preflight."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from mofang.data.connectors import read_source
from mofang.errors import DataError
from mofang.orders.schema import Order, Source


@dataclass
class SourceRead:
    """What was read from one source (for lineage in the data card)."""

    label: str
    format: str
    rows: int
    columns: int
    sha256: str
    encoding: str | None = None
    separator: str | None = None
    denied: list[str] = field(default_factory=list)


def read_granted(order: Order, on_source: Callable[[int, Source], None] | None = None,
                 ) -> tuple[pd.DataFrame, list[SourceRead]]:
    """Every source read, granted columns only, stacked row-wise; raises DataError on any mismatch."""
    frames, reads = [], []
    first_columns: list[str] | None = None
    for i, source in enumerate(order.data):
        if on_source is not None:
            on_source(i, source)
        frame = read_source(source, granted=order.is_granted)
        info = frame.attrs.get("source", {})
        _check_allowed_exist(order, frame, source)
        denied = list(info.get("denied", []))
        if first_columns is None:
            first_columns = list(frame.columns)
        elif set(frame.columns) != set(first_columns):
            only_here = sorted(set(frame.columns) - set(first_columns))
            only_first = sorted(set(first_columns) - set(frame.columns))
            raise DataError("sources are stacked row-wise and must have the same columns; "
                            f"only in this source: {only_here or 'none'}, only in {order.data[0].label}: "
                            f"{only_first or 'none'}", source=source.label)
        frames.append(frame[first_columns])
        reads.append(SourceRead(label=source.label, format=info.get("format", ""), rows=len(frame),
                                columns=frame.shape[1], sha256=_sha256(source, frame),
                                encoding=info.get("encoding"), separator=info.get("separator"),
                                denied=denied))
    data = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    _check_roles(order, data)
    return data, reads


def check_sources(order: Order) -> None:
    """Preflight before an order is admitted: every source readable, columns granted, roles present."""
    data, _ = read_granted(order)
    if order.target:
        labels = data[order.target].dropna().map(str).str.strip()
        if labels.nunique() < 2:
            seen = ", ".join(f"'{v}'" for v in labels.unique()[:3]) or "no values at all"
            raise DataError(f"the target needs at least 2 distinct values to learn from; it has {seen}",
                            source=order.data[0].label, column=order.target)


def _check_allowed_exist(order: Order, frame: pd.DataFrame, source: Source) -> None:
    allow = order.columns.allow
    if allow is None:
        return
    absent = [c for c in allow if c not in frame.columns]
    if absent:
        every = list(frame.columns) + list(frame.attrs.get("source", {}).get("denied", []))
        hints = [f"'{c}' (did you mean '{m[0]}'?)" if (m := difflib.get_close_matches(c, every, n=1)) else f"'{c}'"
                 for c in absent]
        raise DataError(f"columns.allow names columns the data does not have: {', '.join(hints)}",
                        source=source.label)


def _check_roles(order: Order, data: pd.DataFrame) -> None:
    for role, column in (("target column", order.target), ("id_column", order.id_column)):
        if column and column not in data.columns:
            close = difflib.get_close_matches(column, list(data.columns), n=1)
            hint = f" — did you mean '{close[0]}'?" if close else ""
            available = ", ".join(list(data.columns)[:40])
            raise DataError(f"the {role} '{column}' is not in the data{hint} (columns: {available})",
                            source=order.data[0].label, column=column)


def _sha256(source: Source, frame: pd.DataFrame) -> str:
    """The file's sha256, or for a database the sha256 of the rows read (as CSV)."""
    import hashlib

    from mofang.store import file_digest

    if source.path is not None:
        return file_digest(source.path)
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()
