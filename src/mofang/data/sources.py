"""Read all of an order's sources, stacked or joined and limited to granted columns; the intake preflight."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.connectors import read_source
from mofang.data.joins import join_onto
from mofang.orders.schema import Order, Source
from mofang.store import file_digest, tree_digest

ReadProgress = Callable[[float, float | None, str], None]  # (done, total, note) while sources are read


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
    sheets: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    join: dict | None = None
    labels: dict | None = None  # a labels file: labels read, targets filled, data labels kept
    warnings: list[str] = field(default_factory=list)  # e.g. a last row cut off and dropped (data card)
    ocr: dict | None = None  # documents read by OCR: pages, confidence, unreadable images (data card)


def read_granted(order: Order, on_source: Callable[[int, Source], None] | None = None, *,
                 on_read: ReadProgress | None = None) -> tuple[pd.DataFrame, list[SourceRead]]:
    """Every source read, granted columns only: stacked row-wise, or joined onto the sources before it where
    it has a `join`; raises DataError on any mismatch. `on_read(done, total, note)` hears the bytes of the
    sources' files read so far of all of them while they are read (sources read of all of them, when none is a
    file), ending with done == total."""
    _check_joins(order)
    joined = any(source.join for source in order.data)
    data: pd.DataFrame | None = None
    reads = []
    meter = ReadMeter(order.data, on_read) if on_read is not None else None
    for i, source in enumerate(order.data):
        if on_source is not None:
            on_source(i, source)
        frame = read_source(source, granted=order.is_granted, strict=is_strict(order, source),
                            on_read=meter.source(i) if meter is not None else None)
        info = frame.attrs.get("source", {})
        if not joined:
            _check_allowed_exist(order, frame, source, list(info.get("denied", [])))
        join = None
        if data is None:
            data = frame
        elif source.join is not None:
            data, join = join_onto(data, frame, source)
        else:
            data = _stack(order, data, frame, source)
        reads.append(SourceRead(label=source.label, format=info.get("format", ""), rows=len(frame),
                                columns=frame.shape[1], sha256=_sha256(source, frame),
                                encoding=info.get("encoding"), separator=info.get("separator"),
                                denied=list(info.get("denied", [])), sheets=list(info.get("sheets", [])),
                                skipped=list(info.get("skipped", [])), join=join,
                                warnings=list(info.get("warnings", [])), ocr=info.get("ocr")))
    assert data is not None  # an order has at least one source
    if joined:
        _check_allowed_exist(order, data, order.data[0], [c for r in reads for c in r.denied])
    _check_roles(order, data)
    if getattr(order, "labels", None) is not None:  # labels people gave rows of this data (mofang label import)
        from mofang.data.label.pool import merge_labels

        data, merged = merge_labels(order, data)
        reads.append(SourceRead(label=str(order.labels), format="labels", rows=merged["labels"], columns=2,
                                sha256=merged["sha256"], labels=merged))
    return data, reads


class ReadMeter:
    """Turns each source's share read into the bytes read of all the sources' files (or the sources read of
    them all, when none is a file: a database says no size), never going back."""

    def __init__(self, sources: list[Source], on_read: ReadProgress) -> None:
        self.sources, self.on_read = sources, on_read
        self.sizes = [source_bytes(s) for s in sources]
        self.total = sum(self.sizes)
        self.done = 0.0

    def source(self, index: int) -> Callable[[float], None]:
        before = sum(self.sizes[:index])
        name = _short_label(self.sources[index])
        where = f" (source {index + 1} of {len(self.sources)})" if len(self.sources) > 1 else ""

        def heard(share: float) -> None:
            share = min(1.0, max(0.0, share))
            if self.total:
                done, total, note = float(before + round(share * self.sizes[index])), float(self.total), "bytes"
            else:
                done, total, note = index + share, float(len(self.sources)), "sources"
            if done < self.done:
                return
            self.done = done
            self.on_read(done, total, f"{note} of {name}{where}" if self.total else f"reading {name}{where}")

        heard(0.0)
        return heard


def source_bytes(source: Source) -> int:
    """The bytes of a source's file (of a folder's files); 0 for a database or a path that is not there."""
    path = source.path
    if path is None:
        return 0
    try:
        if path.is_dir():
            return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink())
        return path.stat().st_size if path.is_file() else 0
    except OSError:
        return 0


def _short_label(source: Source) -> str:
    return source.path.name if source.path is not None and source.path.name else source.label


def is_strict(order: object, source: Source) -> bool:
    """Whether a source cut off mid-row is refused rather than read without its cut row: `strict: true` on the
    source or on the order (or data job)."""
    return bool(source.strict or getattr(order, "strict", False))  # a data job has no `strict` of its own


def _check_joins(order: Order) -> None:
    """Before anything is read: the first source cannot join, and join keys must be granted columns."""
    for i, source in enumerate(order.data):
        if source.join is None:
            continue
        if i == 0:
            raise DataError("the first source has a join but nothing comes before it to join onto; "
                            "put the join on a later source", source=source.label)
        for key in source.join.keys:
            if not order.is_granted(key):
                raise DataError(f"join key '{key}' is not granted by the order's columns (allow/deny), so it "
                                "cannot be read to join on", source=source.label, column=key)


def _stack(order: Order, data: pd.DataFrame, frame: pd.DataFrame, source: Source) -> pd.DataFrame:
    if set(frame.columns) != set(data.columns):
        only_here = sorted(set(frame.columns) - set(data.columns))
        only_before = sorted(set(data.columns) - set(frame.columns))
        before = order.data[0].label if not any(s.join for s in order.data) else "the sources before it"
        raise DataError("sources are stacked row-wise and must have the same columns; "
                        f"only in this source: {only_here or 'none'}, only in {before}: "
                        f"{only_before or 'none'}", source=source.label)
    return pd.concat([data, frame[list(data.columns)]], ignore_index=True)


def check_sources(order: Order, on_read: ReadProgress | None = None) -> None:
    """Preflight before an order is admitted: every source readable, columns granted, roles present;
    `on_read` hears the bytes read as they are (`read_granted`)."""
    data, _ = read_granted(order, on_read=on_read)
    if order.target and not _windows_label(order):
        labels = data[order.target].dropna().map(str).str.strip()
        if labels.nunique() < 2:
            seen = ", ".join(f"'{v}'" for v in labels.unique()[:3]) or "no values at all"
            raise DataError(f"the target needs at least 2 distinct values to learn from; it has {seen}",
                            source=order.data[0].label, column=order.target)


def _check_allowed_exist(order: Order, frame: pd.DataFrame, source: Source, denied: list[str]) -> None:
    allow = order.columns.allow
    if allow is None:
        return
    absent = [c for c in allow if c not in frame.columns]
    if absent:
        every = list(frame.columns) + denied
        hints = [f"'{c}' (did you mean '{m[0]}'?)" if (m := difflib.get_close_matches(c, every, n=1)) else f"'{c}'"
                 for c in absent]
        raise DataError(f"columns.allow names columns the data does not have: {', '.join(hints)}",
                        source=source.label)


def _check_roles(order: Order, data: pd.DataFrame) -> None:
    target = None if _windows_label(order) else order.target
    for role, column in (("target column", target), ("id_column", order.id_column)):
        if column and column not in data.columns:
            close = difflib.get_close_matches(column, list(data.columns), n=1)
            hint = f" — did you mean '{close[0]}'?" if close else ""
            available = ", ".join(list(data.columns)[:40])
            raise DataError(f"the {role} '{column}' is not in the data{hint} (columns: {available})",
                            source=order.data[0].label, column=column)


def _sha256(source: Source, frame: pd.DataFrame) -> str:
    """The file's sha256 (a folder's: over its files), or for a database the sha256 of the rows read (as CSV)."""
    import hashlib


    if source.path is not None:
        return tree_digest(source.path) if source.path.is_dir() else file_digest(source.path)
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()


def _windows_label(order: Order) -> bool:
    """Whether the order's target is created from labelled windows at ingest (anomaly.windows), not read."""
    anomaly = getattr(order, "anomaly", None)
    return anomaly is not None and anomaly.windows is not None
