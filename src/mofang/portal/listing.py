"""The orders list, as the page and `GET /api/v1/orders` show it: filtered by the latest job's status, searched
by id and description, newest first, one page at a time (in SQL, through the caller's tenant-scoped view)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select

from mofang.core.errors import MofangError
from mofang.portal.auth import Caller
from mofang.portal.records import order_view
from mofang.store.models import Job, OrderRecord

JOB_STATUSES = ("queued", "running", "done", "rejected", "failed", "cancelled", "interrupted")
PER_PAGE, MAX_PER_PAGE = 20, 200


@dataclass(frozen=True)
class OrderQuery:
    """What the list is asked for: a status of the latest job, words in the id or description, a page."""

    status: str | None = None
    q: str | None = None
    page: int = 1
    per_page: int = PER_PAGE

    def __post_init__(self) -> None:
        if self.status and self.status not in JOB_STATUSES:
            raise MofangError(f"unknown status '{self.status}' (expected: {', '.join(JOB_STATUSES)})")
        if self.page < 1 or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise MofangError(f"page starts at 1 and per_page is 1..{MAX_PER_PAGE}")


@dataclass(frozen=True)
class OrderPage:
    """One page of orders and what the pager needs."""

    orders: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _filtered(tenant: str | None, query: OrderQuery) -> Select[Any]:
    latest = select(Job.order_pk, func.max(Job.id).label("job_id")).group_by(Job.order_pk).subquery()
    statement = select(OrderRecord).outerjoin(latest, latest.c.order_pk == OrderRecord.id) \
        .outerjoin(Job, Job.id == latest.c.job_id)
    if tenant:
        statement = statement.where(OrderRecord.tenant_id == tenant)
    if query.status:
        statement = statement.where(Job.status == query.status)
    words = (query.q or "").strip()
    if words:
        description = OrderRecord.spec["description"].as_string()
        statement = statement.where(or_(OrderRecord.order_id.icontains(words, autoescape=True),
                                        func.lower(description).contains(words.lower(), autoescape=True)))
    return statement


def find_orders(caller: Caller, tenant: str | None, query: OrderQuery) -> OrderPage:
    """The page of the tenant's orders (every tenant's for an operator asking for none) that `query` selects."""
    statement = _filtered(tenant, query)
    with caller.view.session() as s:
        total = s.scalar(select(func.count()).select_from(statement.subquery())) or 0
        rows = s.scalars(statement.order_by(OrderRecord.id.desc())
                         .offset((query.page - 1) * query.per_page).limit(query.per_page))
        orders = [order_view(r) | {"description": str((r.spec or {}).get("description") or "")} for r in rows]
    return OrderPage(orders, total, query.page, query.per_page)
