"""SQLAlchemy tables of the scheduling service: one queue entry per job, and per-tenant quotas.

Every job gets its queue entry in the same flush that inserts it (state `held`: registered but not queued,
invisible to workers) so the queue and the job table can never disagree; `enqueue` turns a held entry into a
queued one. `mofang run` queues its job and claims it in its own process (`scheduling.foreground`), so it shows
as queued, leased, then done like any other; held are jobs run by the line runner directly, and those stopped
in the foreground (Ctrl-C) until `mofang resume`. Entries carry `tenant_id`, so the security center's tenant
scope covers them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    event,
    insert,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from mofang.store.models import Base, Job, utcnow

#: Entry states. `held`: not for workers (registered but not yet queued, or stopped in the foreground).
HELD, QUEUED, LEASED = "held", "queued", "leased"
DONE, REJECTED, FAILED, CANCELLED = "done", "rejected", "failed", "cancelled"
STATES = (HELD, QUEUED, LEASED, DONE, REJECTED, FAILED, CANCELLED)
TERMINAL = frozenset({DONE, REJECTED, FAILED, CANCELLED})


class QueueEntry(Base):
    """A job's place in the persistent queue: priority, attempts, lease and what it needs to run.

    Times used for scheduling arithmetic (`not_before`, lease and heartbeat) are epoch seconds, compared the
    same way on SQLite and PostgreSQL; `submitted_at`/`finished_at` are for people.
    """

    __tablename__ = "job_queue"
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=HELD, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)  # backoff: not claimable before this
    needs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # cpus, memory_gb, gpu
    lease_owner: Mapped[str | None] = mapped_column(String(128), nullable=True)  # worker id
    lease_node: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    heartbeat_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    claimed_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # the latest claim
    claim_seq: Mapped[int] = mapped_column(Integer, default=0, index=True)  # order of claims: round robin
    executor: Mapped[str | None] = mapped_column(String(16), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    cpu_s: Mapped[float] = mapped_column(Float, default=0.0)  # CPU seconds over all attempts
    run_s: Mapped[float] = mapped_column(Float, default=0.0)  # wall seconds over all attempts
    error_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)  # permanent/transient/lost/...
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sweep_due: Mapped[bool] = mapped_column(Boolean, default=False)  # a dead attempt may have left files
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# Factory configuration, not tenant data: a Core table (no mapped class), so a tenant-scoped session cannot
# read it at all (the scope refuses Core statements); only the operator's unscoped sessions do.
quotas = Table(
    "scheduling_quotas", Base.metadata,
    Column("tenant_id", ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    Column("max_running", Integer, nullable=True),  # None: no limit
    Column("cpu_minutes_per_day", Float, nullable=True),  # None: no limit
)


@event.listens_for(Job, "after_insert")
def _hold_new_job(_mapper: Mapper[Any], connection: Connection, job: Job) -> None:
    """Give every new job its (held) queue entry in the same transaction."""
    connection.execute(insert(QueueEntry).values(job_id=job.id, tenant_id=job.tenant_id, state=HELD))


__all__ = ["CANCELLED", "DONE", "FAILED", "HELD", "LEASED", "QUEUED", "REJECTED", "STATES", "TERMINAL",
           "QueueEntry", "quotas"]
