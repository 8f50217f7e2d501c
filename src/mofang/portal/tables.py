"""SQLAlchemy tables of order notifications (`mofang.portal.webhooks`), in the metadata store's schema.

The store loads this module through the `mofang.tables` entry point, so it imports only SQLAlchemy and the store's
models (not the portal's app). The tables ship with revision `0003_webhook_tables` in
`mofang/store/migrations/versions`; a change to them ships with a new revision.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mofang.store.models import Base, utcnow

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


class WebhookEndpoint(Base):
    """A tenant's webhook: where order state changes are posted, and its signing secret (encrypted with the
    tenant's data key, so shredding the tenant's key makes it unreadable)."""

    __tablename__ = "webhook_endpoints"
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    since_job_id: Mapped[int] = mapped_column(Integer, default=0)  # jobs up to this one predate the webhook
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WebhookDelivery(Base):
    """One notification of one job state: its exact body, attempts, the receiver's last answer."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("tenant_id", "job_id", "event"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    job_id: Mapped[int] = mapped_column(Integer)  # no foreign key: a destroyed order keeps its delivery log
    order_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(48))
    url: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float, default=0.0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


TABLES = [WebhookEndpoint.__table__, WebhookDelivery.__table__]
