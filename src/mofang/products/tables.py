"""SQL tables of the product engineering center: aliases, lineage, feedback, improvement runs, market listings.

Every table carries `tenant_id`, so the security center's tenant scope covers it by that column. Products
and versions are named by (product name, version number), not by foreign keys to `product_versions`: the
destruction of an order deletes its versions, and these rows are deleted with them (`forget`) rather
than blocking it. A new database gets these tables with the rest of the schema; an existing one gains a new
table, or a change to one, through a revision in `mofang/store/migrations/versions`, run when the store opens.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from mofang.store.models import Base, utcnow


class AliasEvent(Base):
    """One move of a product alias (`champion`, `challenger`, any name) to a version; the current target of
    an alias is its latest event, and rollback walks its history."""

    __tablename__ = "product_alias_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    product: Mapped[str] = mapped_column(String(64), index=True)
    alias: Mapped[str] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: the alias was removed
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VersionLineage(Base):
    """Where a product version comes from: its order, job, dataset version and code version."""

    __tablename__ = "product_lineage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    product: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[int] = mapped_column(Integer)
    order_digest: Mapped[str] = mapped_column(String(64))  # sha256 of the job's order spec (canonical JSON)
    dataset_digest: Mapped[str] = mapped_column(String(64))
    code_version: Mapped[str] = mapped_column(String(64))  # the mofang package version
    git_commit: Mapped[str | None] = mapped_column(String(40), nullable=True)
    parent_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # improved from this version
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FeedbackRow(Base):
    """One true outcome or correction sent to a served product (`POST /feedback`): the row as sent."""

    __tablename__ = "product_feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    product: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    row: Mapped[dict[str, Any]] = mapped_column(JSON)
    caller: Mapped[str] = mapped_column(String(128))
    used_by_job: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the improvement job that used it
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImprovementRun(Base):
    """One `mofang improve`: the retraining job, the champion it challenged and the decision with its reason."""

    __tablename__ = "product_improvements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    product: Mapped[str] = mapped_column(String(64), index=True)
    champion_version: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[int] = mapped_column(Integer, index=True)
    feedback_rows: Mapped[int] = mapped_column(Integer)
    challenger_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decision: Mapped[str] = mapped_column(String(16), default="running")  # promoted | kept | rejected | failed
    reason: Mapped[str] = mapped_column(Text, default="")
    comparison: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MarketListing(Base):
    """A product version a tenant published to the marketplace: the model, its card and its evaluation —
    never its data. `tenant_id` is the publisher; the catalog is read across tenants (see `market`)."""

    __tablename__ = "market_listings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)  # the catalog name (the product's name)
    version: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(48))
    family: Mapped[str] = mapped_column(String(48))
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    card: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)  # the published copy (model, schema, metadata, card), encrypted
    digest: Mapped[str] = mapped_column(String(64))
    published_by: Mapped[str] = mapped_column(String(128))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    unpublished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


PRODUCT_TABLES = (AliasEvent, VersionLineage, FeedbackRow, ImprovementRun, MarketListing)


def order_copies(meta: Any, tenant: str, product: str) -> list[Path]:
    """The published marketplace copies of an order's product (destroyed with its order)."""
    with meta.session() as s:
        paths = s.scalars(select(MarketListing.path).where(MarketListing.tenant_id == tenant,
                                                           MarketListing.name == product))
        return sorted({Path(p) for p in paths})


def forget(s: Session, tenant: str, products: list[str] | None = None) -> None:
    """Delete what these tables hold about a tenant's products (all of them when `products` is None): called
    by certified destruction, so feedback rows (customer data) go with the order."""
    for table in PRODUCT_TABLES:
        column = table.name if table is MarketListing else table.product
        statement = delete(table).where(table.tenant_id == tenant)
        if products is not None:
            statement = statement.where(column.in_(products))
        s.execute(statement)
