"""Feedback: true outcomes and corrections sent to a served product, kept per tenant for the improvement loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from mofang.core.errors import MofangError
from mofang.core.tasks import spec as task_spec
from mofang.products.tables import FeedbackRow
from mofang.store import MetaStore

MAX_FEEDBACK_ROWS = 10_000


class FeedbackError(MofangError):
    """Feedback that cannot be recorded (no true outcome, too many rows)."""


@dataclass(frozen=True)
class Outcomes:
    """What a product's feedback rows carry: the field of their true outcome, what else (`carried`, for messages),
    the OpenAPI description of the rows (`help`) and how rows are checked and stored (`check`: the rows as
    stored, or FeedbackError). A product that answers rows takes them as sent to /predict plus the true target
    (`row_outcomes`); a kind with routes of its own sets its own on its runtime (`ProductRuntime.outcomes`)."""

    target: str
    carried: str = "features as sent to /predict"
    help: str = ""
    check: Callable[[str, list[dict[str, Any]]], list[dict[str, Any]]] | None = None

    def describe(self) -> str:
        return self.help or f"Rows as sent to /predict plus the true `{self.target}`"

    def checked(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.check(self.target, rows) if self.check is not None else rows


def row_outcomes(schema: dict[str, Any]) -> Outcomes | None:
    """The feedback a product takes by default: its rows plus the true target; None where the task's target is
    served text, not a label (an answer, a reply: no outcome column to correct)."""
    if not task_spec(schema["task"]).label_target:
        return None
    return Outcomes(str(schema["target"]))


def record_feedback(meta: MetaStore, *, tenant: str, product: str, version: int | None, outcomes: Outcomes,
                    rows: list[dict[str, Any]], caller: str) -> int:
    """Store rows that carry their true outcome in `outcomes.target` (a correction is the same row with the right
    value); returns how many were stored. Every row must name its outcome; rows are checked and stored the way
    the product's `outcomes` say (a forecast's actuals, an anomaly product's labels)."""
    if not rows or len(rows) > MAX_FEEDBACK_ROWS:
        raise FeedbackError(f"send 1 to {MAX_FEEDBACK_ROWS:,} feedback rows, not {len(rows):,}")
    target = outcomes.target
    for i, row in enumerate(rows):
        value = row.get(target)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise FeedbackError(f"rows[{i}]: the true outcome '{target}' is missing; feedback rows carry the "
                                f"{outcomes.carried} plus the outcome")
    rows = outcomes.checked(rows)
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
