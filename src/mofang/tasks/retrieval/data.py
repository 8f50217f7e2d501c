"""The retrieval-qa task at the data workshop: question, answer and source columns (the `data.columns` hook),
questions split at random or documents all indexed (the `data.split` override), and the dataset's retrieval
description (the `data.publish` hook)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.data.ops import ROW
from mofang.data.station import FREE_TEXT, drop_reason, split_columns, split_rows_of, text_columns
from mofang.station.context import StationContext

DOCUMENT_SOURCES = ("path", "title", "label")  # a documents record's columns returned with its passages
HOW = "random (questions are not stratified by their answer)"


def is_documents(order: Any, frame: pd.DataFrame) -> bool:
    """A retrieval-qa order over a documents source (path, title, text records) whose answers are the
    documents' own text, with no question columns named."""
    return order.target == "text" and not order.text_columns and {"path", "text"} <= set(frame.columns)


def columns(ctx: StationContext, frame: pd.DataFrame, profile: dict, raw: pd.DataFrame) -> str:
    """A retrieval-qa order's columns: the question text(s) (kind "text"), the answer (the target) and
    granted columns returned with each answer as its source (e.g. department, role "source"). A
    documents source (path, title, text records) with target `text` is indexed as passages."""
    target, id_column = ctx.order.target or "", ctx.order.id_column
    documents = is_documents(ctx.order, frame)
    questions = [] if documents else text_columns(ctx, profile, frame)
    kept = [{"name": name, "kind": "text"} for name in questions]
    dropped: list[dict] = []
    pii: list[dict] = []
    for name, spec in profile["columns"].items():
        if name == target or name in questions or name == id_column:
            continue
        if documents and name in DOCUMENT_SOURCES and name in frame.columns:
            kept.append({"name": name, "kind": spec["kind"], "role": "source"})
            continue
        reason = drop_reason(name, spec["kind"], frame, raw, id_column, pii)
        if reason == FREE_TEXT:
            reason = ("free text not named in the order's 'text' (the questions are "
                      + ", ".join(questions) + ")") if questions else FREE_TEXT
        if reason is None:  # returned with each answer, never searched
            kept.append({"name": name, "kind": spec["kind"], "role": "source"})
        else:
            dropped.append({"name": name, "reason": reason})
            ctx.reason(f"dropped column {name}: {reason}")
    sources = [f["name"] for f in kept if f.get("role") == "source"]
    if documents:
        ctx.reason(f"documents source: each file's '{target}' is cut into passages to index; no "
                   "question–answer pairs, so there are no held-out questions to evaluate on")
    else:
        ctx.reason(f"questions: {', '.join(questions)} (users ask like '{questions[0]}'); answers: "
                   f"'{target}'" + (f"; returned with each answer: {', '.join(sources)}" if sources else ""))
    ctx.metric(features=len(kept), dropped=len(dropped), pii_columns=len(pii))
    ctx.param(features=[f["name"] for f in kept])
    ctx.save("features", {"features": kept, "dropped": dropped})
    ctx.save("guard_trace", {"pii": pii, "scores": {}})
    return (f"{len(questions)} question columns, answer '{target}', {len(sources)} source columns, "
            f"{len(dropped)} columns dropped ({len(pii)} PII)" if not documents else
            f"documents: '{target}' indexed as passages, {len(sources)} source columns")


def split(ctx: StationContext) -> str:
    """Question–answer pairs split 70/15/15 at random, each row keeping the number it had in the sources
    (answers name the row they come from); documents without questions are all indexed."""
    frame = ctx.load("validated")
    if is_documents(ctx.order, frame):
        return split_documents(ctx, frame, split_columns(ctx, ctx.load("features"), keep_row_numbers=True))
    return split_rows_of(ctx, keep_row_numbers=True, how=HOW, frame=frame)


def split_documents(ctx: StationContext, frame: pd.DataFrame, columns: list[str]) -> str:
    """Documents without questions: every record is indexed (train); valid and test stay empty."""
    how = "none: documents without questions are all indexed"
    chosen = frame[columns].reset_index(drop=True)
    empty = chosen.iloc[0:0]
    sizes = {"train": len(chosen), "valid": 0, "test": 0}
    for name, part in (("train", chosen), ("valid", empty), ("test", empty)):
        ctx.save(name, part)
    ctx.reason(f"not split: {len(chosen):,} documents are all indexed; there are no question–answer pairs "
               "to hold out, so evaluation reports what it can without them")
    ctx.param(seed=ctx.order.seed, method=how, shares=[1.0, 0.0, 0.0])
    ctx.metric(**sizes)
    ctx.save("split_trace", {"method": how, "seed": ctx.order.seed, "rows": sizes, "rare_classes": {},
                             "synthetic": {"added_to_train": 0, "dropped_parent_held_out": 0},
                             "leakage": {}})
    return f"documents: {len(chosen):,} indexed, no held-out questions"


def publish(ctx: StationContext, parts: dict[str, pd.DataFrame], features: dict) -> dict[str, Any]:
    """The dataset's `retrieval` record: pairs or documents, the question and source columns, the row id."""
    found = features["features"]
    return {"retrieval": {
        "mode": "documents" if is_documents(ctx.order, parts["train"]) else "pairs",
        "text": [f["name"] for f in found if f["kind"] == "text" and not f.get("role")],
        "sources": [f["name"] for f in found if f.get("role") == "source"],
        "id_column": ctx.order.id_column or ROW}}
