"""Tenant isolation at one chokepoint: every ORM statement of a scoped session sees one tenant's rows only,
and artifact paths are derived under a root, never taken from input.

How: `TenantScope.install(session)` puts the scope in `session.info`; session-class listeners, installed
once at import, read it on every statement. `do_orm_execute` adds `with_loader_criteria` for every mapped
entity to each ORM SELECT (incl. session.get(), lazy and eager relationship loads, refreshes), UPDATE and
DELETE, and refuses what criteria cannot bound (raw SQL, Core statements on tables, bulk INSERT, bulk
UPDATE by primary key, assignments to tenant_id or foreign keys). `before_flush` refuses new or changed
objects that belong to, or reference, rows outside the tenant. Sessions without a scope, or with the
operator's, are unscoped.

Entities are covered by kind (see `entity_criteria`): those with a `tenant_id` column (OrderRecord, Job,
Artifact, Product, ApiKey, TenantKey, AuditEvent) by that column; Tenant by its id; StationRun,
ProcessRun and ProductVersion through their parent (job, station run, product). A mapped class of none of
these kinds is refused in a tenant scope, so a new table cannot slip past the scope unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, event, inspect, select
from sqlalchemy.orm import Mapper, ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql.elements import ColumnElement

from mofang.core.errors import MofangError
from mofang.security.authz import Forbidden
from mofang.security.identity import Identity
from mofang.store.models import Base, Job, ProcessRun, Product, ProductVersion, StationRun, Tenant

if TYPE_CHECKING:
    from mofang.store.meta import MetaStore

SCOPE_KEY = "mofang.tenant_scope"


class ScopeViolation(Forbidden):
    """A tenant-scoped session tried to reach outside its tenant, or to bypass the scope."""


class UnsafePathError(MofangError):
    """A path part that could lead outside the artifact root."""


# Entities without a tenant_id column, scoped through their parent: class -> (parent attribute, criteria).
_CHILDREN: dict[type, tuple[str, Callable[[str], ColumnElement[bool]]]] = {
    StationRun: ("job", lambda t: StationRun.job_id.in_(select(Job.id).where(Job.tenant_id == t))),
    ProcessRun: ("station_run", lambda t: ProcessRun.station_run_id.in_(
        select(StationRun.id).join(Job, Job.id == StationRun.job_id).where(Job.tenant_id == t))),
    ProductVersion: ("product", lambda t: ProductVersion.product_id.in_(
        select(Product.id).where(Product.tenant_id == t))),
}


def entity_criteria(cls: type, tenant: str) -> ColumnElement[bool] | None:
    """The WHERE criterion restricting mapped class cls to tenant's rows; None when cls is not covered."""
    if cls is Tenant:
        return Tenant.id == tenant
    if "tenant_id" in cls.__mapper__.columns:  # type: ignore[attr-defined]
        return cls.tenant_id == tenant  # type: ignore[attr-defined]
    if cls in _CHILDREN:
        return _CHILDREN[cls][1](tenant)
    return None


@dataclass(frozen=True)
class TenantScope:
    """The tenant a session is restricted to; tenant None means unscoped (the factory operator)."""

    tenant: str | None

    @classmethod
    def of(cls, identity: Identity) -> TenantScope:
        return cls(None if identity.is_operator else identity.tenant)

    def install(self, session: Session) -> Session:
        """Restrict session to this scope (for all its later statements) and return it."""
        session.info[SCOPE_KEY] = self
        return session

    def options(self) -> list[Any]:
        """The loader criteria of this scope, one per mapped entity."""
        assert self.tenant is not None
        options = []
        for mapper in Base.registry.mappers:
            criteria = entity_criteria(mapper.class_, self.tenant)
            if criteria is not None:
                options.append(with_loader_criteria(mapper.class_, criteria, include_aliases=True))
        return options


def scope_of(session: Session) -> TenantScope | None:
    """The tenant scope installed on session, None when it has none or an unscoped one."""
    scope = session.info.get(SCOPE_KEY)
    return scope if isinstance(scope, TenantScope) and scope.tenant is not None else None


@contextmanager
def scoped_session(meta: MetaStore, identity: Identity) -> Iterator[Session]:
    """A session of meta restricted to identity's tenant (unscoped for an operator); commits on success."""
    with Session(meta.engine, expire_on_commit=False) as session:
        TenantScope.of(identity).install(session)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    scope = scope_of(state.session)
    if scope is None:
        return
    if not state.is_orm_statement:
        raise ScopeViolation("raw SQL and Core statements on tables bypass the tenant scope; use ORM entities")
    for mapper in state.all_mappers:
        if entity_criteria(mapper.class_, scope.tenant) is None:  # type: ignore[arg-type]
            raise ScopeViolation(f"{mapper.class_.__name__} is not covered by the tenant scope")
    if state.is_insert:
        raise ScopeViolation("bulk INSERT bypasses the tenant scope's checks; add objects to the session")
    if state.is_update:
        _check_bulk_update(state)
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(*scope.options())


def _check_bulk_update(state: ORMExecuteState) -> None:
    if isinstance(state.parameters, list):  # bulk UPDATE by primary key: loader criteria do not apply
        raise ScopeViolation("bulk UPDATE by primary key bypasses the tenant scope; use update().where()")
    statement: Any = state.statement
    keys = list(statement._values or {}) + [k for k, _ in statement._ordered_values or ()]  # noqa: SLF001
    keys += list(state.parameters or {})
    mapper: Mapper[Any] = state.all_mappers[0]
    for key in keys:
        column = key if isinstance(key, Column) else mapper.columns.get(getattr(key, "key", key))
        if column is None or column.name == "tenant_id" or column.foreign_keys:
            name = getattr(column, "name", key)
            raise ScopeViolation(f"a tenant-scoped bulk UPDATE may not set {name!r}")


@event.listens_for(Session, "before_flush")
def _check_flush(session: Session, _context: Any, _instances: Any) -> None:
    scope = scope_of(session)
    if scope is None:
        return
    with session.no_autoflush:
        for obj in list(session.new) + [o for o in session.dirty if session.is_modified(o)]:
            _check_object(session, scope.tenant, obj)  # type: ignore[arg-type]


def _check_object(session: Session, tenant: str, obj: Any) -> None:
    cls, name = type(obj), type(obj).__name__
    if entity_criteria(cls, tenant) is None:
        raise ScopeViolation(f"{name} is not covered by the tenant scope")
    owner = _owner_tenant(session, obj)
    if owner != tenant:
        raise ScopeViolation(f"tenant scope '{tenant}' may not write a {name} of tenant {owner!r}")
    # Every row referenced by a foreign key must be visible in the scope (session.get is scoped).
    state = inspect(obj)
    for prop in cls.__mapper__.column_attrs:
        for column in prop.columns:
            for fk in getattr(column, "foreign_keys", ()):
                value, target = state.attrs[prop.key].value, _mapped_class(fk.column.table.name)
                if value is not None and target is not None and session.get(target, value) is None:
                    raise ScopeViolation(f"{name}.{column.name} refers to a row outside tenant '{tenant}'")


def _owner_tenant(session: Session, obj: Any) -> str | None:
    """The tenant owning obj, following parents for entities without a tenant_id (None when unknown)."""
    cls = type(obj)
    if cls is Tenant:
        return obj.id
    if "tenant_id" in cls.__mapper__.columns:
        return obj.tenant_id
    if cls not in _CHILDREN:
        return None
    relationship = cls.__mapper__.relationships[_CHILDREN[cls][0]]
    parent = getattr(obj, relationship.key)
    if parent is None:  # a pending object does not lazy-load: look the parent up by its key (scoped)
        (column,) = relationship.local_columns
        key = getattr(obj, cls.__mapper__.get_property_by_column(column).key)
        parent = None if key is None else session.get(relationship.mapper.class_, key)
    return None if parent is None else _owner_tenant(session, parent)


@event.listens_for(Session, "detached_to_persistent")
def _check_reattached(session: Session, obj: Any) -> None:
    # An object loaded elsewhere and attached here would sit in the identity map, unfiltered.
    scope = scope_of(session)
    if scope is not None and _owner_tenant(session, obj) != scope.tenant:
        raise ScopeViolation(f"tenant scope '{scope.tenant}' may not attach a {type(obj).__name__} of another tenant")


def _mapped_class(table: str) -> type | None:
    for mapper in Base.registry.mappers:
        if mapper.local_table.name == table:  # type: ignore[union-attr]
            return mapper.class_
    return None


def safe_child(root: Path, *parts: str) -> Path:
    """root/part/... resolved, refusing parts that are empty, absolute, '.'/'..', hold '..', a path
    separator or NUL, and any result that resolves (through symlinks too) outside root."""
    if not parts:
        raise UnsafePathError("no path parts given")
    for part in parts:
        if not isinstance(part, str) or not part or part in {".", ".."} or ".." in part:
            raise UnsafePathError(f"unsafe path part {part!r}")
        if "/" in part or "\\" in part or "\0" in part or Path(part).is_absolute():
            raise UnsafePathError(f"unsafe path part {part!r}: separators and NUL are not allowed")
    base = root.resolve()
    target = base.joinpath(*parts).resolve()
    if not target.is_relative_to(base):
        raise UnsafePathError(f"path {'/'.join(parts)!r} leads outside {base}")
    return target


__all__ = ["SCOPE_KEY", "ScopeViolation", "TenantScope", "UnsafePathError", "entity_criteria", "safe_child",
           "scope_of", "scoped_session"]
