"""An order's labeling pool, and labels gathered by people merged back into the order's target.

`mofang label export ORDER.yaml` proposes rows of the order's own data (its target empty) for people to label;
`mofang label import` writes their answers to a labels file (id, label); an order naming that file in `labels:`
gets the target of those rows filled at ingest — never overriding a label already in the data — and the next
run learns from them. Ids are the order's `id_column`, else the data row number from 1 (stacked sources count
on).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.label.files import read_labels
from mofang.orders.schema import Order

MAX_LISTED = 5  # unknown ids named in an error


@dataclass(frozen=True)
class Pool:
    """The order's rows as a labeling pool: ids, texts (text columns joined), the labels known so far."""

    ids: list[str]
    texts: list[str]
    labels: dict[str, str]
    text_columns: list[str]


def row_ids(order: Order, frame: pd.DataFrame) -> list[str]:
    """Each row's id: the order's id column, else the data row number from 1."""
    if order.id_column and order.id_column in frame.columns:
        ids = frame[order.id_column].astype(object).where(frame[order.id_column].notna(), "").astype(str)
        ids = ids.str.strip().tolist()
        if "" in ids:
            raise DataError(f"a row has no id (data row {ids.index('') + 1})", column=order.id_column)
        return ids
    return [str(k + 1) for k in range(len(frame))]


def order_pool(order: Order, frame: pd.DataFrame) -> Pool:
    """The pool of the order's data `frame` (as `read_granted` gives it, labels file merged)."""
    columns = order.text_columns or _text_guess(frame, order)
    texts = frame[columns].astype(object).where(frame[columns].notna(), "")
    joined = ["\n".join(str(v) for v in row if str(v)) for row in texts.itertuples(index=False)]
    ids = row_ids(order, frame)
    target = frame[order.target] if order.target in frame.columns else pd.Series([None] * len(frame))
    labels = {i: str(v).strip() for i, v in zip(ids, target, strict=True) if pd.notna(v) and str(v).strip()}
    return Pool(ids, joined, labels, columns)


def merge_labels(order: Order, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """`frame` with the order's labels file filling empty targets by id; and what it did (filled, kept, sha256).
    Ids the data does not have are an error (the labels belong to other data)."""
    path = order.labels
    assert path is not None and order.target
    if not path.exists():
        raise DataError("the labels file does not exist", source=str(path))
    labels = read_labels(path)
    ids = row_ids(order, frame)
    unknown = sorted(set(labels) - set(ids))
    if unknown:
        listed = ", ".join(unknown[:MAX_LISTED]) + (f" … ({len(unknown)} in all)" if len(unknown) > MAX_LISTED else "")
        how = f"column '{order.id_column}'" if order.id_column else "data row numbers (the order has no id_column)"
        raise DataError(f"labels for ids the data does not have: {listed}; ids are matched on {how}",
                        source=str(path))
    target = frame[order.target].astype(object).copy()
    filled = kept = 0
    for row, key in enumerate(ids):
        if key not in labels:
            continue
        current = target.iat[row]
        if pd.isna(current) or not str(current).strip():
            target.iat[row] = labels[key]
            filled += 1
        elif str(current).strip() != labels[key]:
            kept += 1  # the data's own label wins
    frame = frame.copy()
    frame[order.target] = target
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return frame, {"labels": len(labels), "filled": filled, "kept": kept, "sha256": digest}


def _text_guess(frame: pd.DataFrame, order: Order) -> list[str]:
    """Without `text:` in the order: the string column with the longest texts (not the target or the id)."""
    skip = {order.target, order.id_column}
    candidates = [c for c in frame.columns if c not in skip and frame[c].dtype == object]
    if not candidates:
        raise DataError("no text column found; name it in the order's 'text'")
    return [max(candidates, key=lambda c: frame[c].fillna("").astype(str).str.len().mean())]
