"""MetaStore: the metadata database (SQLite by default, PostgreSQL or any SQLAlchemy URL)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from mofang.core.config import settings
from mofang.core.errors import NotFoundError
from mofang.store.migrate import Outcome, migrate
from mofang.store.models import Base, Job, OrderRecord, Product, ProductVersion, Tenant, utcnow
from mofang.store.tables import load_unit_tables


class SessionScope(Protocol):
    """What restricts a session (the security center's TenantScope): installed on every session of a view."""

    def install(self, session: Session) -> Session: ...


class MetaStore:
    """Owns the engine and sessions; brings the schema (every unit's tables) to the current revision on opening
    (`mofang.store.migrate`: `migration` says what that did). `scoped(scope)` gives a view whose every session is
    restricted by `scope` (the security center's chokepoint)."""

    scope: SessionScope | None = None  # installed on every session of this view

    def __init__(self, url: str | None = None) -> None:
        self.url = url or settings().db_url
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(self.url, future=True, pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        load_unit_tables()
        self.migration: Outcome = migrate(self.engine, Base.metadata)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def scoped(self, scope: SessionScope) -> MetaStore:
        """This store seen through `scope` (`TenantScope.of(identity)`: a tenant identity's sessions see and touch
        only its tenant's rows, an operator's are unscoped). Shares the engine; cheap to make per request."""
        view = copy.copy(self)
        view.scope = scope
        return view

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        with self._sessions() as session:
            if self.scope is not None:
                self.scope.install(session)
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()

    # -- orders and jobs -------------------------------------------------------------------------
    def register_job(self, tenant: str, order_id: str, task: str, spec: dict[str, Any],
                     source_file: str | None) -> int:
        """Record (or update) the order and queue a new job for it; return the job id."""
        with self.session() as s:
            if s.get(Tenant, tenant) is None:
                s.add(Tenant(id=tenant))
                s.flush()
            record = s.scalar(select(OrderRecord).where(OrderRecord.tenant_id == tenant,
                                                        OrderRecord.order_id == order_id))
            if record is None:
                record = OrderRecord(tenant_id=tenant, order_id=order_id, task=task, spec=spec,
                                     source_file=source_file)
                s.add(record)
                s.flush()
            else:
                record.spec, record.task, record.source_file = spec, task, source_file
            job = Job(order_pk=record.id, tenant_id=tenant, status="queued", spec=spec, outcome={})
            s.add(job)
            s.flush()
            return job.id

    def job(self, job_id: int) -> Job:
        with self.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id}")
            _ = job.order
            return job

    def set_job(self, job_id: int, **fields: Any) -> None:
        with self.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id}")
            for key, value in fields.items():
                setattr(job, key, value)
            if fields.get("status") == "running" and job.started_at is None:
                job.started_at = utcnow()
            if fields.get("status") in {"done", "failed", "rejected", "interrupted"}:
                job.finished_at = utcnow()

    def orders(self, tenant: str | None = None) -> list[OrderRecord]:
        with self.session() as s:
            query = select(OrderRecord).order_by(OrderRecord.id)
            if tenant:
                query = query.where(OrderRecord.tenant_id == tenant)
            records = list(s.scalars(query))
            for record in records:
                _ = record.jobs
            return records

    def order(self, order_id: str, tenant: str | None = None) -> OrderRecord:
        with self.session() as s:
            query = select(OrderRecord).where(OrderRecord.order_id == order_id)
            if tenant:
                query = query.where(OrderRecord.tenant_id == tenant)
            records = list(s.scalars(query))
            if not records:
                raise NotFoundError(f"no order '{order_id}'")
            if len(records) > 1:
                raise NotFoundError(f"order '{order_id}' exists for several tenants; name the tenant")
            for job in records[0].jobs:
                for station in job.stations:
                    _ = station.processes
            return records[0]

    # -- products --------------------------------------------------------------------------------
    def products(self, tenant: str | None = None) -> list[Product]:
        with self.session() as s:
            query = select(Product).order_by(Product.id)
            if tenant:
                query = query.where(Product.tenant_id == tenant)
            products = list(s.scalars(query))
            for product in products:
                _ = product.versions
            return products

    def product_version(self, name: str, version: int | None = None,
                        tenant: str | None = None) -> ProductVersion:
        """The given version of a product, or its latest when version is None."""
        with self.session() as s:
            query = select(Product).where(Product.name == name)
            if tenant:
                query = query.where(Product.tenant_id == tenant)
            products = list(s.scalars(query))
            if not products:
                raise NotFoundError(f"no product '{name}'")
            if len(products) > 1:
                raise NotFoundError(f"product '{name}' exists for several tenants; name the tenant")
            versions = products[0].versions
            if not versions:
                raise NotFoundError(f"product '{name}' has no delivered version")
            if version is None:
                chosen = versions[-1]
            else:
                matches = [v for v in versions if v.version == version]
                if not matches:
                    known = ", ".join(str(v.version) for v in versions)
                    raise NotFoundError(f"product '{name}' has no version {version} (has: {known})")
                chosen = matches[0]
            _ = chosen.product
            return chosen

    def add_product_version(self, tenant: str, name: str, task: str, job_id: int, bundle_path: str,
                            bundle_digest: str, model_family: str, metrics: dict[str, Any]) -> int:
        """Register a delivered version; returns its version number (1, 2, ...)."""
        with self.session() as s:
            product = s.scalar(select(Product).where(Product.tenant_id == tenant, Product.name == name))
            if product is None:
                product = Product(tenant_id=tenant, name=name, task=task)
                s.add(product)
                s.flush()
            existing = [v for v in product.versions if v.job_id == job_id]
            if existing:  # re-delivery of the same job on resume: idempotent
                return existing[0].version
            number = max((v.version for v in product.versions), default=0) + 1
            s.add(ProductVersion(product_id=product.id, version=number, job_id=job_id,
                                 bundle_path=bundle_path, bundle_digest=bundle_digest,
                                 model_family=model_family, metrics=metrics))
            return number


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
