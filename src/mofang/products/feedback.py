"""Feedback: true outcomes and corrections sent to a served product, kept per tenant for the improvement loop."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select

from mofang.core.errors import MofangError
from mofang.products.tables import FeedbackRow
from mofang.store import MetaStore

MAX_FEEDBACK_ROWS = 10_000
FORECAST, ANOMALY = "time-series-forecast", "anomaly-detection"
NO_OUTCOME = ("retrieval-qa", "instruction-tuning")  # answers with no outcome column to correct
ANOMALY_LABEL = "anomaly"  # the label field of an anomaly product trained without a label column
LABELS = {"1": 1, "0": 0, "true": 1, "false": 0, "yes": 1, "no": 0}


class FeedbackError(MofangError):
    """Feedback that cannot be recorded (no true outcome, too many rows)."""


def outcome_field(schema: dict[str, Any]) -> str | None:
    """The field a feedback row carries its true outcome in; None for a product that takes no feedback."""
    task = schema.get("task")
    if task in NO_OUTCOME:
        return None
    if task == ANOMALY:
        return schema.get("target") or ANOMALY_LABEL
    return str(schema["target"])


def feedback_help(schema: dict[str, Any]) -> str:
    """What a product's feedback rows hold (the OpenAPI description of POST /feedback's rows)."""
    target, task = outcome_field(schema), schema.get("task")
    if task == FORECAST:
        return f"Observed actuals: {{series_id, time, `{target}`}} per series and time step"
    if task == ANOMALY:
        return f"Readings as sent to /score plus their label `{target}` (1 anomalous, 0 normal)"
    return f"Rows as sent to /predict plus the true `{target}`"


def record_feedback(meta: MetaStore, *, tenant: str, product: str, version: int | None, target: str,
                    rows: list[dict[str, Any]], caller: str, schema: dict[str, Any] | None = None) -> int:
    """Store rows that carry their true outcome in `target` (a correction is the same row with the right
    value); returns how many were stored. Every row must name its outcome; with the product's `schema`, a
    forecast's actuals and an anomaly product's labels are checked and stored one way (see `checked_rows`)."""
    if not rows or len(rows) > MAX_FEEDBACK_ROWS:
        raise FeedbackError(f"send 1 to {MAX_FEEDBACK_ROWS:,} feedback rows, not {len(rows):,}")
    for i, row in enumerate(rows):
        value = row.get(target)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise FeedbackError(f"rows[{i}]: the true outcome '{target}' is missing; feedback rows carry the "
                                f"{_carried(schema)} plus the outcome")
    rows = checked_rows(schema, target, rows) if schema is not None else rows
    with meta.session() as s:
        s.add_all(FeedbackRow(tenant_id=tenant, product=product, version=version, row=row, caller=caller)
                  for row in rows)
    return len(rows)


def checked_rows(schema: dict[str, Any], target: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Feedback rows as stored: a forecast's actuals as {series_id, time (ISO), target (a number)} of a known
    series, an anomaly product's readings with their label as 1 or 0; other products' rows as sent."""
    if schema.get("task") == FORECAST:
        return [_actual(i, row, target, schema.get("series") or []) for i, row in enumerate(rows)]
    if schema.get("task") == ANOMALY:
        return [{**row, target: _label(i, row[target], target)} for i, row in enumerate(rows)]
    return rows


def _actual(i: int, row: dict[str, Any], target: str, series: list[str]) -> dict[str, Any]:
    """One observed actual of a forecast product, checked: a known series, a readable time, a finite number."""
    import pandas as pd

    unknown = sorted(set(row) - {"series_id", "time", target})
    if unknown:
        raise FeedbackError(f"rows[{i}]: unknown fields {unknown}; an actual is {{series_id, time, {target}}}")
    key = "" if row.get("series_id") is None else str(row["series_id"])
    if key not in series:
        raise FeedbackError(f"rows[{i}]: unknown series id '{key}'; the model knows {len(series)} series")
    try:
        when = pd.Timestamp(str(row.get("time")))
    except (TypeError, ValueError):
        when = pd.NaT
    if pd.isna(when):
        raise FeedbackError(f"rows[{i}]: cannot read time {row.get('time')!r} as a date/time")
    value = row[target]
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    if not math.isfinite(number):
        raise FeedbackError(f"rows[{i}]: the actual '{target}' must be a finite number, not {value!r}")
    return {"series_id": key, "time": when.isoformat(), target: number}


def _label(i: int, value: Any, target: str) -> int:
    """An anomaly label as 1 (anomalous) or 0 (normal): 1/0, true/false or yes/no."""
    label = LABELS.get(str(value).strip().lower()) if not isinstance(value, float) else LABELS.get(f"{value:g}")
    if label is None:
        raise FeedbackError(f"rows[{i}]: label '{target}' must be 1 (anomalous) or 0 (normal), not {value!r}")
    return label


def _carried(schema: dict[str, Any] | None) -> str:
    task = (schema or {}).get("task")
    if task == FORECAST:
        return "series id and time"
    return "readings as sent to /score" if task == ANOMALY else "features as sent to /predict"


def feedback_rows(meta: MetaStore, tenant: str, product: str, *, unused_only: bool = False) -> list[FeedbackRow]:
    """A product's feedback rows, oldest first."""
    with meta.session() as s:
        query = select(FeedbackRow).where(FeedbackRow.tenant_id == tenant, FeedbackRow.product == product)
        if unused_only:
            query = query.where(FeedbackRow.used_by_job.is_(None))
        return list(s.scalars(query.order_by(FeedbackRow.id)))


def mark_used(meta: MetaStore, tenant: str, ids: list[int], job_id: int) -> None:
    """Remember which improvement job used these rows."""
    with meta.session() as s:
        for row in s.scalars(select(FeedbackRow).where(FeedbackRow.tenant_id == tenant, FeedbackRow.id.in_(ids))):
            row.used_by_job = job_id
