"""Admission: an order becomes a job only when the line can run it (its sources read, its task's own intake checks
passed); nothing is registered when a check fails. `mofang.scheduling.submit` then queues the job."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mofang.core.tasks import spec as task_spec
from mofang.data import check_sources
from mofang.orders.schema import Order
from mofang.security.audit import ORDER_SUBMITTED, AuditLog
from mofang.store import MetaStore


def admit(order: Order, meta: MetaStore, *, source_file: str | Path | None = None, actor: str = "local",
          on_read: Callable[[float, float | None, str], None] | None = None) -> int:
    """Check the order can run (every source readable as a table with its target present, unless its task ingests
    sources its own way; its task's `intake.check`; the task itself was checked against the registry when the
    order was parsed) and register its job; returns the job id. `on_read(done, total, note)` hears the sources'
    bytes read while they are checked."""
    task = task_spec(order.task)
    if task.override("data.ingest") is None:  # a task that reads its sources its own way checks them itself
        check_sources(order, on_read)
    check = task.hook("intake.check")
    if check is not None:  # e.g. an instruction-tuning order's base model: checkpoint, template, sequence length
        check(order, source_file)
    spec = order.model_dump(mode="json")
    job_id = meta.register_job(order.tenant, order.id, order.task, spec,
                               str(source_file) if source_file else None)
    AuditLog(meta).record(ORDER_SUBMITTED, actor=actor, tenant=order.tenant, object=order.id,
                          details={"job": job_id, "task": order.task, "sources": [s.label for s in order.data],
                                   "retention_days": order.retention_days})
    return job_id
