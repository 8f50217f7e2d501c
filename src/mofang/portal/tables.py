"""SQLAlchemy tables of the portal, in the metadata store's schema: order notifications (`mofang.portal.webhooks`)
and signed-in browser sessions (`mofang.portal.sessions`).

The store loads this module through the `mofang.tables` entry point, so it imports only SQLAlchemy and the store's
models (not the portal's app). The webhook tables ship with revision `0003_webhook_tables`, the sessions table
with `0004_portal_sessions` in `mofang/store/migrations/versions`; a change to them ships with a new revision.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

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


class PortalSession(Base):
    """One signed-in browser. The cookie's random id is a secret: only its SHA-256 is stored. The identity is
    kept as the key presented at sign-in named it; the key's revocation and expiry are checked on every request."""

    __tablename__ = "portal_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # None: an operator
    role: Mapped[str] = mapped_column(String(16))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


TABLES = [WebhookEndpoint.__table__, WebhookDelivery.__table__]


def forget(s: Session, tenant: str, orders: list[str] | None = None) -> None:
    """Certified destruction of a whole tenant signs its browsers out (an order's destruction keeps them)."""
    if orders is None:
        s.execute(delete(PortalSession).where(PortalSession.tenant_id == tenant))
