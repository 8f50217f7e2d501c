"""Tenant isolation: a scoped session sees and touches only its tenant's rows; artifact paths stay under root."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session, joinedload, selectinload

from mofang.core.errors import NotFoundError
from mofang.portal.tables import PortalSession
from mofang.portal.webhooks import WebhookDelivery, WebhookEndpoint  # registered here so ENTITIES is the same alone
from mofang.products.tables import AliasEvent, FeedbackRow, ImprovementRun, MarketListing, VersionLineage
from mofang.security.identity import Identity, Role
from mofang.security.scope import (
    ScopeViolation,
    TenantScope,
    UnsafePathError,
    entity_criteria,
    safe_child,
    scoped_session,
)
from mofang.security.tables import ApiKey, AuditEvent, OrderKey, TenantKey
from mofang.store import MetaStore
from mofang.store.models import (
    Artifact,
    Base,
    Job,
    OrderRecord,
    ProcessRun,
    Product,
    ProductVersion,
    StationRun,
    Tenant,
)
from tests.conftest import postgres_url

OPERATOR = Identity(user="ops", tenant=None, role=Role.OPERATOR, key_id=None)
ENTITIES = [m.class_ for m in Base.registry.mappers]


def member(tenant: str) -> Identity:
    return Identity(user="u", tenant=tenant, role=Role.MEMBER, key_id=None)


@dataclass
class Ids:
    """Primary keys of one tenant's rows."""

    order: int
    job: int
    station: int
    process: int
    product: int
    version: int
    artifact: int
    api_key: str


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> MetaStore:
    if request.param == "sqlite":
        yield request.getfixturevalue("meta")
        return
    request.getfixturevalue("home")
    store = MetaStore(postgres_url(fresh_schema=True))
    yield store
    store.dispose()


def populate(store: MetaStore, tenant: str) -> Ids:
    job = store.register_job(tenant, "o1", "tabular-regression", {}, None)
    store.add_product_version(tenant, "p1", "tabular-regression", job, "/b", "d", "linear", {})
    with store.session() as s:
        station = StationRun(job_id=job, station="train")
        s.add(station)
        s.flush()
        process = ProcessRun(station_run_id=station.id, name="fit")
        artifact = Artifact(tenant_id=tenant, job_id=job, kind="model", name="m", digest="d", path="/a",
                            size_bytes=1)
        s.add_all([process, artifact, TenantKey(tenant_id=tenant, wrapped_key=b"k", master_key_id="m"),
                   OrderKey(tenant_id=tenant, order_id="o1", wrapped_key=b"k"),
                   ApiKey(key_id=f"{tenant}key", tenant_id=tenant, user="u", role="owner", salt=b"s",
                          key_hash=b"h"),
                   AuditEvent(at="t", actor="u", tenant_id=tenant, action="a", object="o", details={},
                              prev_hash="0", hash=tenant)])
        s.add_all(product_rows(tenant, job))
        s.add(PortalSession(id_hash=f"{tenant}-session", user="u", tenant_id=tenant, role="owner", csrf="c",
                            expires_at=datetime.now(UTC) + timedelta(hours=1)))
        s.add_all([WebhookEndpoint(tenant_id=tenant, url="https://hooks.example/x", secret=b"s"),
                   WebhookDelivery(tenant_id=tenant, job_id=job, order_id="o1", event="job.done",
                                   url="https://hooks.example/x", body="{}")])
        s.flush()
        order = s.scalar(select(OrderRecord.id).where(OrderRecord.tenant_id == tenant))
        product = s.scalar(select(Product.id).where(Product.tenant_id == tenant))
        version = s.scalar(select(ProductVersion.id).where(ProductVersion.product_id == product))
        return Ids(order, job, station.id, process.id, product, version, artifact.id, f"{tenant}key")


def product_rows(tenant: str, job: int) -> list[object]:
    """One row of each product engineering table (aliases, lineage, feedback, improvements, market)."""
    return [AliasEvent(tenant_id=tenant, product="p1", alias="champion", version=1, actor="u"),
            VersionLineage(tenant_id=tenant, product="p1", version=1, order_id="o1", job_id=job, order_digest="d",
                           dataset_digest="d", code_version="0"),
            FeedbackRow(tenant_id=tenant, product="p1", version=1, row={"y": 1}, caller="u"),
            ImprovementRun(tenant_id=tenant, product="p1", champion_version=1, job_id=job, feedback_rows=1),
            MarketListing(tenant_id=tenant, name=f"p1-{tenant}", version=1, task="t", family="f", card="c",
                          path="/m", digest="d", published_by="u")]


@pytest.fixture()
def two(store: MetaStore) -> tuple[Ids, Ids]:
    return populate(store, "acme"), populate(store, "bravo")


def counts(session: Session) -> dict[str, int]:
    return {cls.__name__: session.scalar(select(func.count()).select_from(cls)) for cls in ENTITIES}


def test_every_mapped_entity_is_covered_by_the_scope() -> None:
    assert {Tenant, OrderRecord, Job, StationRun, ProcessRun, Artifact, Product, ProductVersion, ApiKey,
            TenantKey, OrderKey, AuditEvent} <= set(ENTITIES)
    assert all(entity_criteria(cls, "acme") is not None for cls in ENTITIES)


def test_scoped_session_sees_none_of_another_tenants_rows(store: MetaStore, two: tuple[Ids, Ids]) -> None:
    a, b = two
    with store.session() as s:
        everything = counts(s)
    assert all(n >= 2 for n in everything.values())
    with scoped_session(store, member("bravo")) as s:
        assert all(n == everything[name] / 2 for name, n in counts(s).items())  # each entity: half
        for cls in ENTITIES:
            rows = s.scalars(select(cls)).all()
            assert rows and all("acme" not in repr(vars(r)) for r in rows), cls
        for cls, key in [(OrderRecord, a.order), (Job, a.job), (StationRun, a.station), (ProcessRun, a.process),
                         (Product, a.product), (ProductVersion, a.version), (Artifact, a.artifact),
                         (ApiKey, a.api_key), (TenantKey, "acme"), (Tenant, "acme")]:
            assert s.get(cls, key) is None, cls
        assert s.scalars(select(OrderRecord).where(OrderRecord.id == a.order)).first() is None
        assert s.query(Job).filter_by(id=a.job).first() is None
        assert s.get(Job, b.job).order.tenant_id == "bravo"
        assert s.scalar(select(func.count()).select_from(Job).join(Job.order)
                        .where(OrderRecord.order_id == "o1")) == 1


def test_relationship_loads_are_filtered_too(store: MetaStore, two: tuple[Ids, Ids]) -> None:
    a, b = two
    with store.session() as s:  # plant rows of acme under bravo's parents (a corrupt or hostile write)
        s.add(Job(order_pk=b.order, tenant_id="acme", spec={}))
    with scoped_session(store, member("bravo")) as s:
        order = s.get(OrderRecord, b.order)
        assert [j.tenant_id for j in order.jobs] == ["bravo"]
        assert [v.version for v in s.get(Product, b.product).versions] == [1]
    for option in (selectinload, joinedload):
        with scoped_session(store, member("bravo")) as s:
            order = s.scalars(select(OrderRecord).options(option(OrderRecord.jobs))).unique().one()
            assert [j.tenant_id for j in order.jobs] == ["bravo"]
            product = s.scalars(select(Product).options(option(Product.versions))).unique().one()
            assert [v.version for v in product.versions] == [1]
    with scoped_session(store, member("acme")) as s:  # acme cannot climb to bravo's order from its job
        planted = s.scalars(select(Job).where(Job.order_pk == b.order)).one()
        assert planted.order is None


def test_operator_session_is_unscoped(store: MetaStore, two: tuple[Ids, Ids]) -> None:
    with store.session() as s:
        everything = counts(s)
    with scoped_session(store, OPERATOR) as s:
        assert counts(s) == everything
        assert s.get(OrderRecord, two[0].order) is not None


def test_bulk_update_and_delete_cannot_touch_another_tenant(store: MetaStore, two: tuple[Ids, Ids]) -> None:
    a, b = two
    with scoped_session(store, member("bravo")) as s:
        assert s.execute(update(OrderRecord).values(task="changed")).rowcount == 1
        assert s.execute(update(Job).where(Job.id == a.job).values(status="failed")).rowcount == 0
        assert s.execute(update(StationRun).values(status="changed")).rowcount == 1
        assert s.execute(delete(ProcessRun)).rowcount == 1
        assert s.execute(delete(Artifact).where(Artifact.id == a.artifact)).rowcount == 0
        assert s.execute(delete(ProductVersion)).rowcount == 1
    with store.session() as s:
        assert s.get(OrderRecord, a.order).task == "tabular-regression"
        assert s.get(OrderRecord, b.order).task == "changed"
        assert s.get(Job, a.job).status == "queued" and s.get(StationRun, a.station).status == "pending"
        assert s.get(ProcessRun, a.process) is not None and s.get(ProcessRun, b.process) is None
        assert s.get(Artifact, a.artifact) is not None and s.get(ProductVersion, a.version) is not None


@pytest.mark.parametrize("statement", [
    "raw", "core", "bulk_insert", "update_by_pk", "move_tenant", "move_parent"])
def test_statements_that_would_bypass_the_scope_are_refused(store: MetaStore, two: tuple[Ids, Ids],
                                                            statement: str) -> None:
    a, b = two
    run = {
        "raw": lambda s: s.execute(text("select * from orders")),
        "core": lambda s: s.execute(select(OrderRecord.__table__)),
        "bulk_insert": lambda s: s.execute(insert(Tenant), [{"id": "acme2"}]),
        "update_by_pk": lambda s: s.execute(update(Job), [{"id": a.job, "status": "failed"}]),
        "move_tenant": lambda s: s.execute(update(Job).values(tenant_id="acme")),
        "move_parent": lambda s: s.execute(update(Job).values({Job.order_pk: a.order})),
    }[statement]
    with pytest.raises(ScopeViolation), scoped_session(store, member("bravo")) as s:
        run(s)
    with store.session() as s:
        assert s.get(Job, a.job).status == "queued" and s.get(Job, b.job).tenant_id == "bravo"
        assert s.get(Job, b.job).order_pk == b.order


@pytest.mark.parametrize("write", ["foreign_tenant", "foreign_parent_key", "foreign_child_parent",
                                   "move_own_row", "foreign_tenant_row", "reattach"])
def test_flush_refuses_writes_outside_the_tenant(store: MetaStore, two: tuple[Ids, Ids], write: str) -> None:
    a, b = two
    with store.session() as s:
        detached = s.get(OrderRecord, a.order)

    def act(s: Session) -> None:
        if write == "foreign_tenant":
            s.add(OrderRecord(tenant_id="acme", order_id="o2", task="t", spec={}))
        elif write == "foreign_parent_key":
            s.add(Job(order_pk=a.order, tenant_id="bravo", spec={}))
        elif write == "foreign_child_parent":
            s.add(ProductVersion(product_id=a.product, version=2, job_id=b.job, bundle_path="/x",
                                 bundle_digest="x", model_family="x"))
        elif write == "move_own_row":
            s.get(OrderRecord, b.order).tenant_id = "acme"
        elif write == "foreign_tenant_row":
            s.add(Tenant(id="charlie"))
        else:
            s.add(detached)
        s.flush()

    with pytest.raises(ScopeViolation), scoped_session(store, member("bravo")) as s:
        act(s)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(OrderRecord)) == 2
        assert s.scalar(select(func.count()).select_from(ProductVersion)) == 2
        assert s.get(OrderRecord, b.order).tenant_id == "bravo" and s.get(Tenant, "charlie") is None


def test_own_tenant_writes_pass_the_flush_check(store: MetaStore, two: tuple[Ids, Ids]) -> None:
    a, b = two
    with scoped_session(store, member("bravo")) as s:
        order = OrderRecord(tenant_id="bravo", order_id="o2", task="t", spec={})
        s.add(order)
        s.add(Job(order=order, tenant_id="bravo", spec={}))
        s.add(ProductVersion(product_id=b.product, version=2, job_id=b.job, bundle_path="/x", bundle_digest="x",
                             model_family="x"))
        s.add(StationRun(job=s.get(Job, b.job), station="deliver"))
        s.get(Job, b.job).status = "running"
    with scoped_session(store, member("bravo")) as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 2
        assert [v.version for v in s.get(Product, b.product).versions] == [1, 2]


def test_scope_can_be_installed_on_any_session(store: MetaStore, two: tuple[Ids, Ids]) -> None:
    with store.session() as s:
        TenantScope.of(member("acme")).install(s)
        assert {o.tenant_id for o in s.scalars(select(OrderRecord))} == {"acme"}
        TenantScope.of(OPERATOR).install(s)
        assert {o.tenant_id for o in s.scalars(select(OrderRecord))} == {"acme", "bravo"}


# -- artifact paths ------------------------------------------------------------------------------------


def test_safe_child_derives_paths_under_root(tmp_path: Path) -> None:
    root = tmp_path / "tenants"
    assert safe_child(root, "acme", "jobs", "7", "model.bin") == root.resolve() / "acme/jobs/7/model.bin"
    assert safe_child(root, "a.b-c_d") == root.resolve() / "a.b-c_d"


@pytest.mark.parametrize("parts", [
    ("..",), (".",), ("",), ("acme", ".."), ("../etc",), ("acme/../../etc",), ("/etc",), ("/",),
    ("a\\..\\b",), ("a\0b",), ("x..y",), ("acme", "/abs"), ()])
def test_safe_child_refuses_traversal(tmp_path: Path, parts: tuple[str, ...]) -> None:
    with pytest.raises(UnsafePathError):
        safe_child(tmp_path, *parts)


def test_safe_child_refuses_symlink_escapes(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "acme").mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, root / "acme" / "link")
    os.symlink(outside / "secret", root / "acme" / "file")
    os.symlink(root / "acme", root / "alias")  # a link that stays inside is fine
    with pytest.raises(UnsafePathError, match="outside"):
        safe_child(root, "acme", "link", "x")
    with pytest.raises(UnsafePathError, match="outside"):
        safe_child(root, "acme", "file")
    assert safe_child(root, "alias", "x") == root.resolve() / "acme" / "x"


def test_a_scoped_store_view_answers_only_for_its_tenant(store: MetaStore, two: tuple[Ids, Ids]) -> None:
    a, b = two
    view = store.scoped(TenantScope.of(member("bravo")))
    assert [r.tenant_id for r in view.orders()] == ["bravo"]  # no tenant filter given: the scope applies
    assert [p.tenant_id for p in view.products()] == ["bravo"]
    with pytest.raises(NotFoundError):
        view.job(a.job)
    assert view.job(b.job).tenant_id == "bravo"
    with pytest.raises(NotFoundError):
        view.order("o1", "acme")
    assert {r.tenant_id for r in store.scoped(TenantScope.of(OPERATOR)).orders()} == {"acme", "bravo"}
    assert {r.tenant_id for r in store.orders()} == {"acme", "bravo"}  # the store itself stays unscoped
