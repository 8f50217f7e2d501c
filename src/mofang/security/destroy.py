"""Certified destruction: delete an order's or a tenant's files, shred keys, chain the event in the audit
log and issue a signed destruction certificate (`mofang destroy`)."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from mofang.core.errors import NotFoundError
from mofang.security.audit import ORDER_DESTROYED, TENANT_DESTROYED, AuditLog
from mofang.security.certificates import issue_certificate
from mofang.security.keys import KeyRing, upload_key_id
from mofang.security.signing import FactoryKey
from mofang.security.tables import ApiKey, TenantKey
from mofang.store import ArtifactStore, MetaStore, file_digest
from mofang.store.models import (
    Artifact,
    Job,
    OrderRecord,
    ProcessRun,
    Product,
    ProductVersion,
    StationRun,
    utcnow,
)
from mofang.store.tables import unit_table_modules

DESTROYED = "destroyed"


@dataclass
class Plan:
    """What one destruction removes: folders (whole), the keys of uploads it removes, and what it keeps because
    another order shares it."""

    what: str
    tenant: str
    order: str | None
    folders: list[Path] = field(default_factory=list)
    kept: list[dict[str, str]] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)  # ids of the uploads removed (their keys are shredded)


def plan_order(meta: MetaStore, artifacts: ArtifactStore, tenant: str, order_id: str) -> Plan:
    """The order's job folders, its artifact folders (dataset versions, bundles, marketplace copies: all under the
    order's key), the uploads it was placed with, and what earlier releases stored per tenant for it (tenant-wide
    dataset versions and bundles) — an upload or a tenant-wide artifact that another order uses is kept."""
    record = meta.order(order_id, tenant)
    root = artifacts.tenant_dir(tenant)
    jobs = {job.id for job in record.jobs}
    plan = Plan("order", tenant, order_id, folders=[root / "jobs" / str(j) for j in sorted(jobs)])
    plan.folders += artifacts.order_dirs(tenant, order_id)
    shared = _referenced(meta, root, tenant, _other_jobs(meta, tenant, jobs))
    for path in sorted(_referenced(meta, root, tenant, jobs)):
        if _inside(path, plan.folders):
            continue
        if path in shared:  # content-addressed per tenant by an earlier release: another order may use it
            plan.kept.append({"path": str(path), "reason": "also used by another order of this tenant"})
        elif path.exists():
            plan.folders.append(path)
    for module in unit_table_modules():  # copies a unit made outside the job folders (marketplace listings)
        copies = getattr(module, "order_copies", None)
        if copies is not None:
            plan.folders += [p for p in copies(meta, tenant, order_id) if p.exists() and not _inside(p, plan.folders)]
    users = _upload_users(meta, tenant)
    for upload in sorted(users.get(order_id, set())):
        folder = root / "uploads" / upload
        others = sorted(o for o, used in users.items() if o != order_id and upload in used)
        if others:
            plan.kept.append({"path": str(folder), "reason": "an upload also used by "
                              + ", ".join(f"order '{o}'" for o in others) + " of this tenant"})
            continue
        plan.uploads.append(upload)
        if folder.exists():
            plan.folders.append(folder)
    return plan


def plan_tenant(artifacts: ArtifactStore, tenant: str) -> Plan:
    return Plan("tenant", tenant, None, folders=[artifacts.tenant_dir(tenant)])


def destroy(plan: Plan, *, meta: MetaStore, home: Path, keyring: KeyRing, audit: AuditLog, factory: FactoryKey,
            actor: str) -> dict[str, Any]:
    """Carry out a plan: hash and delete every file, shred the order's key and those of the uploads it removes
    (order destruction) or the tenant's key (tenant destruction, which makes every order and upload key of the
    tenant unreadable too), remove the
    metadata that describes the data, record the event and return the signed certificate (also written to
    <home>/certificates/<id>.json, outside every tenant's folder)."""
    files = _inventory(plan.folders, home)
    for folder in plan.folders:
        if folder.exists():
            shutil.rmtree(folder)
    left = [f["path"] for f in files if (home / f["path"]).exists()]
    if left:
        raise OSError(f"destruction incomplete: {len(left)} files remain (e.g. {left[0]})")
    shredded: list[dict[str, str]] = []
    if plan.what == "tenant":
        master_id = _master_key_id(meta, plan.tenant)
        keyring.shred(plan.tenant)
        if master_id is not None:
            shredded.append({"key_id": f"tenant:{plan.tenant}", "master_key_id": master_id})
        _forget_tenant(meta, plan.tenant)
    else:
        if keyring.shred_order(plan.tenant, plan.order or ""):
            shredded.append({"key_id": f"order:{plan.tenant}/{plan.order}", "wrapped_by": f"tenant:{plan.tenant}"})
        for upload in plan.uploads:
            if keyring.shred_order(plan.tenant, upload_key_id(upload)):
                shredded.append({"key_id": f"upload:{plan.tenant}/{upload}", "wrapped_by": f"tenant:{plan.tenant}"})
        _forget_order(meta, plan.tenant, plan.order or "")
    certificate_id = str(uuid.uuid4())
    event = audit.record(TENANT_DESTROYED if plan.what == "tenant" else ORDER_DESTROYED, actor=actor,
                         tenant=plan.tenant, object=plan.order or plan.tenant,
                         details={"certificate_id": certificate_id, "files": len(files),
                                  "kept_shared": len(plan.kept)})
    doc = issue_certificate(factory, certificate_id=certificate_id, what=plan.what, tenant=plan.tenant,
                            order=plan.order, files=files, keys_shredded=shredded, destroyed_by=actor,
                            audit_seq=event.seq, audit_hash=event.hash)
    folder = home / "certificates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{certificate_id}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return doc


def expired_orders(meta: MetaStore, now: datetime | None = None) -> list[tuple[str, str]]:
    """(tenant, order) pairs whose `retention_days` have passed and that still hold data."""
    now = now or datetime.now(UTC)
    found = []
    with meta.session() as s:
        for record in s.scalars(select(OrderRecord)):
            days = (record.spec or {}).get("retention_days")
            created = record.created_at if record.created_at.tzinfo else record.created_at.replace(tzinfo=UTC)
            if days and created + timedelta(days=days) <= now and any(j.status != DESTROYED for j in record.jobs):
                found.append((record.tenant_id, record.order_id))
    return found


def _inventory(folders: list[Path], home: Path) -> list[dict[str, Any]]:
    files = []
    for folder in folders:
        paths = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
        for path in paths:
            files.append({"path": path.relative_to(home).as_posix(), "sha256": file_digest(path),
                          "bytes": path.stat().st_size})
    return files


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


def _upload_users(meta: MetaStore, tenant: str) -> dict[str, set[str]]:
    """For each order of the tenant that still holds data, the ids of the uploads it names (its placed spec, its
    jobs' specs): `<home>/tenants/<tenant>/uploads/<id>/...`."""
    pattern = re.compile(rf"tenants/{re.escape(tenant)}/uploads/([0-9a-f]{{16}})/")
    users: dict[str, set[str]] = {}
    with meta.session() as s:
        for record in s.scalars(select(OrderRecord).where(OrderRecord.tenant_id == tenant)):
            if (record.spec or {}).get("destroyed"):
                continue
            text = json.dumps([record.spec, *(job.spec for job in record.jobs)], ensure_ascii=False)
            users[record.order_id] = set(pattern.findall(text))
    return users


def _referenced(meta: MetaStore, root: Path, tenant: str, jobs: set[int]) -> set[Path]:
    """Dataset versions (by the digest each data publish process recorded) and product bundles that `jobs`
    produced, where earlier releases stored them per tenant (newer ones are in the order's own folders)."""
    with meta.session() as s:
        published = s.scalars(select(ProcessRun.params).join(StationRun).where(
            StationRun.job_id.in_(jobs), StationRun.station == "data", ProcessRun.name == "publish"))
        digests = [p.get("digest") for p in published if p and p.get("digest")]
        bundles = s.scalars(select(ProductVersion.bundle_path).join(Product).where(
            Product.tenant_id == tenant, ProductVersion.job_id.in_(jobs)))
        paths = {root / "artifacts" / "dataset" / d[:2] / d for d in digests} | {Path(p) for p in bundles}
    return {p for p in paths if root in p.parents}


def _other_jobs(meta: MetaStore, tenant: str, jobs: set[int]) -> set[int]:
    with meta.session() as s:
        return set(s.scalars(select(Job.id).where(Job.tenant_id == tenant, Job.id.not_in(jobs))))


def _master_key_id(meta: MetaStore, tenant: str) -> str | None:
    with meta.session() as s:
        key = s.get(TenantKey, tenant)
        return key.master_key_id if key is not None and key.wrapped_key else None


def _forget_runs(s: Any, jobs: list[int]) -> None:
    runs = list(s.scalars(select(StationRun.id).where(StationRun.job_id.in_(jobs))))
    s.execute(delete(ProcessRun).where(ProcessRun.station_run_id.in_(runs)))
    s.execute(delete(StationRun).where(StationRun.id.in_(runs)))
    s.execute(delete(Artifact).where(Artifact.job_id.in_(jobs)))


def _forget_order(meta: MetaStore, tenant: str, order_id: str) -> None:
    """Keep the order and its jobs as tombstones (the audit log names them); drop what described the data."""
    with meta.session() as s:
        record = s.scalars(select(OrderRecord).where(OrderRecord.tenant_id == tenant,
                                                     OrderRecord.order_id == order_id)).first()
        if record is None:
            raise NotFoundError(f"no order '{order_id}'")
        jobs = [job.id for job in record.jobs]
        _forget_runs(s, jobs)
        s.execute(delete(ProductVersion).where(ProductVersion.job_id.in_(jobs)))
        _forget(s, tenant, [order_id])  # every unit's rows of the order: aliases, lineage, feedback, listings
        for job in record.jobs:
            job.status, job.spec, job.outcome, job.error, job.finished_at = DESTROYED, {}, {}, None, utcnow()
        record.spec = {"retention_days": (record.spec or {}).get("retention_days"), "destroyed": True}
        record.source_file = None
        s.flush()
        for product in s.scalars(select(Product).where(Product.tenant_id == tenant)):
            if not product.versions:
                s.delete(product)


def _forget_tenant(meta: MetaStore, tenant: str) -> None:
    with meta.session() as s:
        jobs = list(s.scalars(select(Job.id).where(Job.tenant_id == tenant)))
        _forget_runs(s, jobs)
        products = list(s.scalars(select(Product.id).where(Product.tenant_id == tenant)))
        s.execute(delete(ProductVersion).where(ProductVersion.product_id.in_(products)))
        s.execute(delete(Product).where(Product.id.in_(products)))
        _forget(s, tenant, None)
        s.execute(delete(Job).where(Job.id.in_(jobs)))
        s.execute(delete(OrderRecord).where(OrderRecord.tenant_id == tenant))
        for key in s.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant, ApiKey.revoked_at.is_(None))):
            key.revoked_at = utcnow()


def _forget(session: Any, tenant: str, orders: list[str] | None) -> None:
    """Delete what each unit's tables hold about these orders of the tenant (all of them when None)."""
    for module in unit_table_modules():
        forget = getattr(module, "forget", None)
        if forget is not None:
            forget(session, tenant, orders)
