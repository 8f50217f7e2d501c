"""Orphan sweeping: an attempt that died (kill -9, lost node) or a job that will not finish can leave
content-addressed artifacts no record points to, and `.staging-*` folders of a copy cut short.

A tenant is swept only while none of its jobs runs — under the queue's serial transaction, so no claim
starts one meanwhile — and only what nothing references goes: a dataset version is referenced by the
data publish record of a job (the digest it published), a bundle by a product version. A job resumed later
publishes the same content again (`ArtifactStore.put_dir` is idempotent), so sweeping never loses work.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mofang.scheduling.queue import Queue
from mofang.scheduling.tables import LEASED, QueueEntry
from mofang.security.scratch import seal_job_folder
from mofang.security.vault import open_vault
from mofang.store.artifacts import ORDER_SCOPE
from mofang.store.models import Job, OrderRecord, ProcessRun, Product, ProductVersion, StationRun

SWEPT_KINDS = ("dataset", "bundle")  # the kinds the line writes; anything else is left alone


def sweep_due(queue: Queue, home: Path) -> list[Path]:
    """Seal the job folders an attempt left unsealed, and sweep every tenant with a sweep due and no running
    job; returns the removed folders."""
    removed: list[Path] = []
    with queue.serial() as s:
        due = s.execute(select(QueueEntry.job_id, QueueEntry.tenant_id, QueueEntry.state, Job.status)
                        .join(Job, Job.id == QueueEntry.job_id).where(QueueEntry.sweep_due.is_(True))).all()
        for job, tenant, state, status in due:
            if state != LEASED and status != "running":
                seal_left_open(queue, home, job, tenant)
        for tenant in sorted({tenant for _, tenant, _, _ in due}):
            if _busy(s, tenant):
                continue
            removed += _sweep(s, home, tenant, queue.config.sweep_grace_s)
            s.execute(update(QueueEntry).where(QueueEntry.tenant_id == tenant, QueueEntry.sweep_due.is_(True))
                      .values(sweep_due=False).execution_options(synchronize_session=False))
    return removed


def seal_left_open(queue: Queue, home: Path, job: int, tenant: str) -> int:
    """Seal a stopped job's scratch that a killed attempt left in plaintext (the runner seals whenever it
    stops on its own; after a kill the files would stay plain until a resume). Returns how many files."""

    folder = home / "tenants" / tenant / "jobs" / str(job)
    if not folder.is_dir():
        return 0
    try:
        order = queue.meta.job(job).order.order_id
        return seal_job_folder(open_vault(queue.meta, home), tenant, order, folder)
    except Exception:  # noqa: BLE001 - e.g. the order's key was shredded: nothing left to protect
        return 0


def unreferenced(s: Session, home: Path, tenant: str) -> list[Path]:
    """A tenant's artifact folders that no publish record or product version refers to (staging included), in
    each order's folders (`<kind>/orders/<order>/<xx>/<digest>`) and where earlier releases stored them per
    tenant (`<kind>/<xx>/<digest>`)."""
    root = home / "tenants" / tenant / "artifacts"
    datasets = {(order, d) for p, order in s.execute(
        select(ProcessRun.params, OrderRecord.order_id).join(StationRun, StationRun.id == ProcessRun.station_run_id)
        .join(Job, Job.id == StationRun.job_id).join(OrderRecord, OrderRecord.id == Job.order_pk)
        .where(Job.tenant_id == tenant, StationRun.station == "data", ProcessRun.name == "publish"))
        if isinstance(p, dict) and (d := p.get("digest"))}
    legacy_datasets = {d for _, d in datasets}
    bundles = {Path(p).resolve() for p in s.scalars(
        select(ProductVersion.bundle_path).join(Product, Product.id == ProductVersion.product_id)
        .where(Product.tenant_id == tenant))}
    found = []
    for kind in SWEPT_KINDS:
        folders: list[tuple[str | None, Path]] = [(None, f) for f in sorted((root / kind).glob("*/*"))
                                                  if f.parent.name != ORDER_SCOPE]
        folders += [(f.parent.parent.name, f) for f in sorted((root / kind / ORDER_SCOPE).glob("*/*/*"))]
        for order, folder in folders:
            if folder.name.startswith(".staging-"):
                found.append(folder)
            elif kind == "dataset" and (folder.name not in legacy_datasets if order is None
                                        else (order, folder.name) not in datasets):
                found.append(folder)
            elif kind == "bundle" and folder.resolve() not in bundles:
                found.append(folder)
    return found


def _busy(s: Session, tenant: str) -> bool:
    """A job of the tenant holds a lease or runs in the foreground (a foreground run killed outright keeps
    its tenant unswept until it is resumed: the sweep cannot tell it from a live one)."""
    leased = s.scalar(select(QueueEntry.job_id).where(QueueEntry.tenant_id == tenant, QueueEntry.state == LEASED)
                      .limit(1))
    running = s.scalar(select(Job.id).where(Job.tenant_id == tenant, Job.status == "running").limit(1))
    return leased is not None or running is not None


def _sweep(s: Session, home: Path, tenant: str, grace_s: float) -> list[Path]:
    removed = []
    now = time.time()
    for folder in unreferenced(s, home, tenant):
        if grace_s and now - _newest_mtime(folder) < grace_s:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder)
        parent = folder.parent  # <xx>, then (in an order's folders) the order's folder if emptied
        for _ in range(2 if parent.parent.parent.name == ORDER_SCOPE else 1):
            if parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
            parent = parent.parent
    return removed


def _newest_mtime(folder: Path) -> float:
    times = [folder.stat().st_mtime] + [p.stat().st_mtime for p in folder.rglob("*")]
    return max(times)
