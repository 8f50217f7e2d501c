"""Feedback: true outcomes and corrections sent to a served product, kept per tenant for the improvement loop."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mofang.errors import MofangError
from mofang.products.tables import FeedbackRow
from mofang.store import MetaStore

MAX_FEEDBACK_ROWS = 10_000


class FeedbackError(MofangError):
    """Feedback that cannot be recorded (no true outcome, too many rows)."""


def record_feedback(meta: MetaStore, *, tenant: str, product: str, version: int | None, target: str,
                    rows: list[dict[str, Any]], caller: str) -> int:
    """Store rows that carry their true outcome in `target` (a correction is the same row with the right
    value); returns how many were stored. Every row must name its outcome."""
    if not rows or len(rows) > MAX_FEEDBACK_ROWS:
        raise FeedbackError(f"send 1 to {MAX_FEEDBACK_ROWS:,} feedback rows, not {len(rows):,}")
    for i, row in enumerate(rows):
        value = row.get(target)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise FeedbackError(f"rows[{i}]: the true outcome '{target}' is missing; feedback rows carry the "
                                "features as sent to /predict plus the outcome")
    with meta.session() as s:
        s.add_all(FeedbackRow(tenant_id=tenant, product=product, version=version, row=row, caller=caller)
                  for row in rows)
    return len(rows)


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
