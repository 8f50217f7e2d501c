"""The persistent job queue: priorities, per-tenant fair share and quotas, leases with heartbeats, retries.

A claim is atomic: on SQLite it runs in a `BEGIN IMMEDIATE` transaction (the database's single writer lock);
on PostgreSQL it selects candidates `FOR UPDATE SKIP LOCKED` under a transaction-scoped advisory lock, so
quota and capacity counts cannot be raced by a concurrent claim. A worker renews its lease by heartbeat;
a lease that is not renewed expires, and the next claim re-queues its job (with backoff) for any worker,
which resumes it at its first unfinished process.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from mofang.core.errors import MofangError, NotFoundError
from mofang.core.resources import Needs
from mofang.scheduling.config import SchedulerConfig
from mofang.scheduling.placement import needs_from
from mofang.scheduling.retry import backoff_s
from mofang.scheduling.tables import (
    CANCELLED,
    DONE,
    FAILED,
    HELD,
    LEASED,
    QUEUED,
    REJECTED,
    TERMINAL,
    QueueEntry,
    quotas,
)
from mofang.store import MetaStore
from mofang.store.models import Job, OrderRecord, Tenant, utcnow

RUNNABLE_JOB = ("queued", "running", "interrupted", "failed")  # the runner's resumable job statuses
_PG_CLAIM_LOCK = 0x6D6F66616E67  # "mofang": the advisory lock that serializes claims and sweeps

#: fits(job needs, needs already placed on the worker's node) -> whether the job may start there
Fits = Callable[[Needs, list[Needs]], bool]


class QueueError(MofangError):
    """A queue operation that does not apply to the job in its current state."""


@dataclass(frozen=True)
class Claim:
    """A job leased to one worker: the worker alone may run it until it finishes or the lease expires."""

    job_id: int
    tenant: str
    order_id: str
    worker: str
    node: str
    attempt: int
    max_attempts: int
    needs: Needs
    executor: str
    cpu_base: float  # CPU and wall seconds of the earlier attempts
    run_base: float


@dataclass(frozen=True)
class Quota:
    """A tenant's limits: jobs running at once, CPU minutes per UTC day (None: no limit)."""

    tenant: str
    max_running: int | None = None
    cpu_minutes_per_day: float | None = None


@dataclass(frozen=True)
class JobView:
    """One row of `mofang jobs list`."""

    job_id: int
    tenant: str
    order_id: str
    state: str
    job_status: str
    priority: int
    attempts: int
    max_attempts: int
    not_before: float
    lease_owner: str | None
    lease_expires_at: float | None
    heartbeat_at: float | None
    needs: dict[str, Any]
    cpu_s: float
    run_s: float
    error_kind: str | None
    last_error: str | None
    cancel_requested: bool
    submitted_at: datetime


class Queue:
    """The queue over a MetaStore. Mutations need the unscoped store (workers and the CLI after authorizing);
    `jobs()` on a tenant-scoped view lists that tenant's entries only."""

    def __init__(self, meta: MetaStore, config: SchedulerConfig | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.meta = meta
        self.config = config or SchedulerConfig.from_env()
        self.clock = clock
        self.sqlite = meta.engine.dialect.name == "sqlite"
        self._engine = _immediate_engine(meta.url) if self.sqlite else meta.engine
        self._sessions = sessionmaker(self._engine, expire_on_commit=False)
        self._reaped: list[tuple[int, str, str]] = []  # what reap() did, until take_reaped() reports it

    def close(self) -> None:
        if self._engine is not self.meta.engine:
            self._engine.dispose()

    # -- transactions ------------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction (SQLite: holding the write lock from its first statement)."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def serial(self) -> Iterator[Session]:
        """A write transaction that no claim or sweep runs alongside."""
        with self._write() as session:
            if not self.sqlite:
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CLAIM_LOCK})
            yield session

    # -- submitting ----------------------------------------------------------------------------------
    def enqueue(self, job_id: int, *, priority: int = 0, max_attempts: int | None = None,
                needs: Needs | None = None, resume: bool = False) -> None:
        """Queue a registered job for the workers. `resume`: its caller claims it next (`mofang resume`), so a
        held job still marked running (run outside the queue, its process killed) is taken over."""
        with self._write() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id}")
            if job.status not in RUNNABLE_JOB:
                raise QueueError(f"job {job_id} is {job.status}; only queued, interrupted or failed jobs can be queued")
            entry = self._entry(s, job)
            if entry.state == LEASED:
                raise QueueError(f"job {job_id} is already running on worker {entry.lease_owner} (if that process "
                                 f"was killed, its lease runs out within {self.config.lease_s:g}s)")
            if entry.state == HELD and job.status == "running" and not resume:
                raise QueueError(f"job {job_id} is running in the foreground, outside the queue")
            entry.state, entry.priority, entry.attempts, entry.not_before = QUEUED, int(priority), 0, 0.0
            entry.max_attempts = int(max_attempts or self.config.max_attempts)
            entry.needs = (needs or needs_from(entry.needs)).to_dict()
            entry.cancel_requested, entry.error_kind, entry.last_error, entry.finished_at = False, None, None, None

    def _entry(self, s: Session, job: Job) -> QueueEntry:
        entry = s.get(QueueEntry, job.id)
        if entry is None:  # a job inserted without the ORM (no after_insert event): hold it now
            entry = QueueEntry(job_id=job.id, tenant_id=job.tenant_id, state=HELD)
            s.add(entry)
            s.flush()
        return entry

    # -- claiming ------------------------------------------------------------------------------------
    def claim(self, worker: str, *, node: str, fits: Fits | None = None, executor: str = "local") -> Claim | None:
        """Lease the next job for `worker` on `node`, or None when nothing is claimable.

        Order: expired leases are re-queued first; then tenants with claimable work by fewest running jobs,
        then least recently served (round robin); within a tenant by priority, then age. A tenant at its
        concurrency or CPU quota waits; a job whose needs do not fit the node's free capacity is passed
        over for a smaller one (backfill).
        """
        now = self.clock()
        with self.serial() as s:
            self.reap(s, now)
            running, reserved = _placed(s, node)
            query = (select(QueueEntry).join(Job, Job.id == QueueEntry.job_id)
                     .where(QueueEntry.state == QUEUED, QueueEntry.not_before <= now,
                            QueueEntry.cancel_requested.is_(False), Job.status.in_(RUNNABLE_JOB))
                     .order_by(QueueEntry.priority.desc(), QueueEntry.job_id))
            if not self.sqlite:
                query = query.with_for_update(skip_locked=True, of=QueueEntry)
            candidates = list(s.scalars(query))
            if not candidates:
                return None
            by_tenant: dict[str, list[QueueEntry]] = defaultdict(list)
            for entry in candidates:
                by_tenant[entry.tenant_id].append(entry)
            served: dict[str, int] = dict(s.execute(select(QueueEntry.tenant_id, func.max(QueueEntry.claim_seq))
                                    .where(QueueEntry.tenant_id.in_(list(by_tenant)))
                                    .group_by(QueueEntry.tenant_id)).tuples().all())
            limits = self._quotas(s, list(by_tenant))
            used = self._cpu_today(s, [t for t, q in limits.items() if q.cpu_minutes_per_day is not None], now)
            for tenant in sorted(by_tenant, key=lambda t: (running[t], served.get(t) or 0, t)):
                if _at_quota(limits.get(tenant, Quota(tenant)), running[tenant], used.get(tenant, 0.0)):
                    continue
                for entry in by_tenant[tenant]:
                    needs = needs_from(entry.needs, where=f"job {entry.job_id}")
                    if fits is not None and not fits(needs, reserved):
                        continue
                    return self._lease(s, entry, worker, node, needs, executor, now)
            return None

    def claim_job(self, job_id: int, worker: str, *, node: str, fits: Fits | None = None,
                  executor: str = "local") -> Claim | None:
        """Lease this one job for `worker` (a foreground run claims the job it queued, and no other), or None
        while it cannot: it is not queued (a worker has it, it is held or it ended), its tenant is at a quota,
        or its needs do not fit `node` beside the jobs placed there. A retry's backoff does not apply: the
        job's owner asks for it now."""
        now = self.clock()
        with self.serial() as s:
            self.reap(s, now)
            query = select(QueueEntry).where(QueueEntry.job_id == job_id)
            entry = s.scalars(query if self.sqlite else query.with_for_update()).first()
            if entry is None:
                raise NotFoundError(f"no job {job_id}")
            status = s.scalar(select(Job.status).where(Job.id == job_id))
            if entry.state != QUEUED or entry.cancel_requested or status not in RUNNABLE_JOB:
                return None
            running, reserved = _placed(s, node)
            quota = self._quotas(s, [entry.tenant_id]).get(entry.tenant_id, Quota(entry.tenant_id))
            used = self._cpu_today(s, [entry.tenant_id] if quota.cpu_minutes_per_day is not None else [], now)
            if _at_quota(quota, running[entry.tenant_id], used.get(entry.tenant_id, 0.0)):
                return None
            needs = needs_from(entry.needs, where=f"job {job_id}")
            if fits is not None and not fits(needs, reserved):
                return None
            return self._lease(s, entry, worker, node, needs, executor, now)

    def hold(self, job_id: int) -> bool:
        """Take a queued job back from the workers (its foreground run stopped waiting for it): held until
        `mofang resume` or `mofang jobs retry`. False when it is not queued (a worker has it, or it ended)."""
        with self.serial() as s:
            entry = s.get(QueueEntry, job_id)
            if entry is None or entry.state != QUEUED:
                return False
            entry.state = HELD
            return True

    def _lease(self, s: Session, entry: QueueEntry, worker: str, node: str, needs: Needs, executor: str,
               now: float) -> Claim:
        entry.state, entry.lease_owner, entry.lease_node, entry.executor = LEASED, worker, node, executor
        entry.lease_expires_at, entry.heartbeat_at, entry.claimed_at = now + self.config.lease_s, now, now
        entry.attempts += 1
        entry.claim_seq = (s.scalar(select(func.max(QueueEntry.claim_seq))) or 0) + 1
        order_id = s.scalar(select(OrderRecord.order_id).join(Job, Job.order_pk == OrderRecord.id)
                            .where(Job.id == entry.job_id)) or ""
        return Claim(job_id=entry.job_id, tenant=entry.tenant_id, order_id=order_id, worker=worker, node=node,
                     attempt=entry.attempts, max_attempts=entry.max_attempts, needs=needs, executor=executor,
                     cpu_base=entry.cpu_s, run_base=entry.run_s)

    def reap(self, s: Session, now: float) -> list[tuple[int, str, str]]:
        """Re-queue (or finally fail) the jobs whose lease expired: their worker is gone; drop queued entries
        whose job can no longer run. Returns (job id, tenant, new state) for each."""
        query = select(QueueEntry).where(QueueEntry.state == LEASED, QueueEntry.lease_expires_at < now)
        if not self.sqlite:
            query = query.with_for_update(skip_locked=True)
        reaped = []
        stale = (select(QueueEntry, Job.status).join(Job, Job.id == QueueEntry.job_id)  # e.g. order destroyed
                 .where(QueueEntry.state == QUEUED, Job.status.not_in(RUNNABLE_JOB)))
        for entry, status in s.execute(stale).all():
            entry.state, entry.error_kind, entry.finished_at = CANCELLED, "cancelled", utcnow()
            entry.last_error = f"the job is {status}"
            reaped.append((entry.job_id, entry.tenant_id, entry.state))
        for entry in s.scalars(query):
            job = s.get(Job, entry.job_id)
            note = (f"worker {entry.lease_owner} stopped renewing its lease (attempt {entry.attempts} of "
                    f"{entry.max_attempts})")
            entry.error_kind, entry.last_error, entry.sweep_due = "lost", note, True
            entry.run_s += max(0.0, (entry.heartbeat_at or now) - (entry.claimed_at or now))
            _clear_lease(entry)
            if entry.cancel_requested:
                entry.state, entry.finished_at = CANCELLED, utcnow()
                _set_job(job, "cancelled", "cancelled by request (its worker stopped)")
            elif entry.attempts >= entry.max_attempts:
                entry.state, entry.finished_at = FAILED, utcnow()
                _set_job(job, "failed", f"{note}; no attempts left")
            else:
                entry.state = QUEUED
                entry.not_before = now + backoff_s(entry.attempts, base_s=self.config.backoff_s,
                                                   max_s=self.config.backoff_max_s)
                _set_job(job, "interrupted", f"{note}; queued again")
            entry.cancel_requested = False
            reaped.append((entry.job_id, entry.tenant_id, entry.state))
        self._reaped += reaped
        return reaped

    def take_reaped(self) -> list[tuple[int, str, str]]:
        """What this queue's reaps (including those inside claims) did since the last call."""
        reaped, self._reaped = self._reaped, []
        return reaped

    # -- running -------------------------------------------------------------------------------------
    def heartbeat(self, claim: Claim, *, cpu_s: float, run_s: float) -> str:
        """Renew the lease; returns "ok", "cancel" (stop the job: cancel requested) or "lost" (the lease is
        gone: another worker owns the job now, stop touching it)."""
        now = self.clock()
        with self._write() as s:
            result = s.execute(update(QueueEntry)
                               .where(QueueEntry.job_id == claim.job_id, QueueEntry.state == LEASED,
                                      QueueEntry.lease_owner == claim.worker)
                               .values(heartbeat_at=now, lease_expires_at=now + self.config.lease_s,
                                       cpu_s=claim.cpu_base + cpu_s, run_s=claim.run_base + run_s)
                               .execution_options(synchronize_session=False))
            if result.rowcount == 0:  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
                return "lost"
            cancel = s.scalar(select(QueueEntry.cancel_requested).where(QueueEntry.job_id == claim.job_id))
            return "cancel" if cancel else "ok"

    def finish(self, claim: Claim, outcome: str, *, cpu_s: float, run_s: float, error_kind: str | None = None,
               error: str | None = None, requeue: bool = True) -> str | None:
        """Record how an attempt ended; returns the entry's new state, or None when the lease was lost.

        outcome: "done" | "rejected" (the job's end), "cancelled", "failed" (error_kind "permanent" ends it;
        "transient" retries with backoff while attempts remain) or "interrupted" (the worker was stopped: the
        job is queued again at once and the attempt is not counted). With `requeue` False (a foreground run)
        nothing goes back to the workers: an interrupted job is held for `mofang resume`, a failure is final.
        """
        now = self.clock()
        with self._write() as s:
            entry = s.scalars(select(QueueEntry).where(QueueEntry.job_id == claim.job_id,
                                                       QueueEntry.state == LEASED,
                                                       QueueEntry.lease_owner == claim.worker)).first()
            if entry is None:
                return None
            job = s.get(Job, claim.job_id)
            if job is not None and job.status in (DONE, REJECTED):
                outcome = job.status  # the job reached its end, whatever interrupted the worker after that
            if entry.cancel_requested and outcome in (FAILED, "interrupted"):
                outcome = CANCELLED  # the person asked for it to stop: do not retry it
            entry.cpu_s, entry.run_s = claim.cpu_base + cpu_s, claim.run_base + run_s
            _clear_lease(entry)
            if outcome in (DONE, REJECTED):
                entry.state, entry.error_kind, entry.last_error = outcome, None, None
            elif outcome == CANCELLED:
                entry.state, entry.error_kind, entry.last_error, entry.sweep_due = CANCELLED, "cancelled", None, True
                _set_job(job, "cancelled", "cancelled by request")
            elif outcome == "interrupted":
                entry.state = QUEUED if requeue else HELD
                entry.not_before, entry.attempts = now, max(0, entry.attempts - 1)
            elif outcome == FAILED:
                entry.error_kind, entry.last_error, entry.sweep_due = error_kind, error, True
                if requeue and error_kind == "transient" and entry.attempts < entry.max_attempts:
                    entry.state = QUEUED
                    entry.not_before = now + backoff_s(entry.attempts, base_s=self.config.backoff_s,
                                                       max_s=self.config.backoff_max_s)
                else:
                    entry.state = FAILED
            else:
                raise ValueError(f"unknown outcome {outcome!r}")
            entry.cancel_requested = False
            if entry.state in TERMINAL:
                entry.finished_at = utcnow()
            return entry.state

    # -- operating -----------------------------------------------------------------------------------
    def cancel(self, job_id: int) -> str:
        """Cancel a queued job now ("cancelled"), or ask a running one's worker to stop it ("cancelling")."""
        with self._write() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id}")
            entry = self._entry(s, job)
            if entry.state in TERMINAL:
                raise QueueError(f"job {job_id} is already {entry.state}")
            if entry.state == LEASED:
                entry.cancel_requested = True
                return "cancelling"
            if job.status == "running":
                raise QueueError(f"job {job_id} runs in the foreground, outside the queue; stop it there (Ctrl-C)")
            if job.status not in RUNNABLE_JOB:
                raise QueueError(f"job {job_id} is already {job.status}")
            entry.state, entry.finished_at, entry.error_kind = CANCELLED, utcnow(), "cancelled"
            _set_job(job, "cancelled", "cancelled by request")
            return CANCELLED

    def retry(self, job_id: int, *, priority: int | None = None) -> None:
        """Queue a failed, cancelled or interrupted job again, with its attempts reset; it resumes at its
        first unfinished process."""
        with self._write() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFoundError(f"no job {job_id}")
            entry = self._entry(s, job)
            if entry.state == LEASED:
                raise QueueError(f"job {job_id} is running on worker {entry.lease_owner}")
            if job.status == "running":
                raise QueueError(f"job {job_id} is running in the foreground, outside the queue, or its process was "
                                 f"killed: then `mofang resume {job_id}` finishes it")
            if job.status not in (*RUNNABLE_JOB, "cancelled"):
                raise QueueError(f"job {job_id} is {job.status}; only failed, cancelled or interrupted jobs are "
                                 "retried")
            if job.status == "cancelled":
                _set_job(job, "interrupted", "queued again after a cancel")
            entry.state, entry.attempts, entry.not_before, entry.cancel_requested = QUEUED, 0, 0.0, False
            entry.error_kind, entry.last_error, entry.finished_at = None, None, None
            if priority is not None:
                entry.priority = int(priority)

    def set_quota(self, tenant: str, *, max_running: int | None = None,
                  cpu_minutes_per_day: float | None = None) -> Quota:
        """Set a tenant's limits (None clears one)."""
        if max_running is not None and max_running < 0 or cpu_minutes_per_day is not None and cpu_minutes_per_day < 0:
            raise QueueError("quotas must not be negative")
        with self._write() as s:
            if s.get(Tenant, tenant) is None:
                raise NotFoundError(f"no tenant '{tenant}'")
            s.execute(quotas.delete().where(quotas.c.tenant_id == tenant))
            s.execute(quotas.insert().values(tenant_id=tenant, max_running=max_running,
                                             cpu_minutes_per_day=cpu_minutes_per_day))
        return Quota(tenant, max_running, cpu_minutes_per_day)

    def quota(self, tenant: str) -> Quota:
        with self.meta.session() as s:
            return self._quotas(s, [tenant]).get(tenant, Quota(tenant))

    def _quotas(self, s: Session, tenants: list[str]) -> dict[str, Quota]:
        rows = s.execute(select(quotas).where(quotas.c.tenant_id.in_(tenants))).all()
        return {r.tenant_id: Quota(r.tenant_id, r.max_running, r.cpu_minutes_per_day) for r in rows}

    def _cpu_today(self, s: Session, tenants: list[str], now: float) -> dict[str, float]:
        """CPU seconds each tenant used today (UTC); a job's CPU counts on the day of its last heartbeat."""
        if not tenants:
            return {}
        day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return dict(s.execute(select(QueueEntry.tenant_id, func.sum(QueueEntry.cpu_s))
                              .where(QueueEntry.tenant_id.in_(tenants), QueueEntry.heartbeat_at >= day)
                              .group_by(QueueEntry.tenant_id)).tuples().all())

    # -- reading -------------------------------------------------------------------------------------
    def jobs(self, *, tenant: str | None = None, states: tuple[str, ...] | None = None,
             limit: int | None = None) -> list[JobView]:
        """Queue entries with their job, newest first (through self.meta, so a scoped view sees its tenant's)."""
        query = (select(QueueEntry, Job.status, OrderRecord.order_id).join(Job, Job.id == QueueEntry.job_id)
                 .join(OrderRecord, OrderRecord.id == Job.order_pk).order_by(QueueEntry.job_id.desc()))
        if tenant:
            query = query.where(QueueEntry.tenant_id == tenant)
        if states:
            query = query.where(QueueEntry.state.in_(states))
        if limit:
            query = query.limit(limit)
        with self.meta.session() as s:
            return [_view(e, status, order) for e, status, order in s.execute(query).all()]

    def job(self, job_id: int) -> JobView:
        for view in self._one(job_id):
            return view
        raise NotFoundError(f"no job {job_id}")

    def _one(self, job_id: int) -> list[JobView]:
        query = (select(QueueEntry, Job.status, OrderRecord.order_id).join(Job, Job.id == QueueEntry.job_id)
                 .join(OrderRecord, OrderRecord.id == Job.order_pk).where(QueueEntry.job_id == job_id))
        with self.meta.session() as s:
            return [_view(e, status, order) for e, status, order in s.execute(query).all()]

    def depth(self) -> dict[tuple[str, str], int]:
        """Entries by (state, tenant)."""
        with self.meta.session() as s:
            rows = s.execute(select(QueueEntry.state, QueueEntry.tenant_id, func.count())
                             .group_by(QueueEntry.state, QueueEntry.tenant_id)).all()
        return {(state, tenant): n for state, tenant, n in rows}

    def leases(self) -> list[tuple[int, str, float, float]]:
        """Live leases: (job id, worker, last heartbeat, expiry)."""
        with self.meta.session() as s:
            rows = s.execute(select(QueueEntry.job_id, QueueEntry.lease_owner, QueueEntry.heartbeat_at,
                                    QueueEntry.lease_expires_at).where(QueueEntry.state == LEASED)).all()
        return [(j, w or "", h or 0.0, e or 0.0) for j, w, h, e in rows]

    def idle(self) -> bool:
        """True when nothing is queued or running (backoff waits count as queued)."""
        with self.meta.session() as s:
            return not s.scalar(select(func.count()).select_from(QueueEntry)
                                .where(QueueEntry.state.in_((QUEUED, LEASED))))


def _placed(s: Session, node: str) -> tuple[dict[str, int], list[Needs]]:
    """Leased jobs now: how many each tenant runs, and the needs of those placed on `node`."""
    running: dict[str, int] = defaultdict(int)
    reserved: list[Needs] = []
    for tenant, lease_node, needs in s.execute(select(QueueEntry.tenant_id, QueueEntry.lease_node, QueueEntry.needs)
                                               .where(QueueEntry.state == LEASED)).all():
        running[tenant] += 1
        if lease_node == node:
            reserved.append(needs_from(needs))
    return running, reserved


def _at_quota(quota: Quota, running: int, cpu_s_today: float) -> bool:
    """Whether the tenant must wait: it runs its most jobs at once, or spent its CPU minutes today."""
    if quota.max_running is not None and running >= quota.max_running:
        return True
    return quota.cpu_minutes_per_day is not None and cpu_s_today >= 60 * quota.cpu_minutes_per_day


def _clear_lease(entry: QueueEntry) -> None:
    """The lease ends with the attempt (a pending cancel is acted on by the caller first)."""
    entry.lease_owner = entry.lease_node = entry.lease_expires_at = None


def _set_job(job: Job | None, status: str, error: str | None) -> None:
    if job is None:
        return
    job.status, job.error = status, error
    if status in {"failed", "cancelled", "interrupted"}:
        job.finished_at = utcnow()


def _view(e: QueueEntry, status: str, order: str) -> JobView:
    return JobView(job_id=e.job_id, tenant=e.tenant_id, order_id=order, state=e.state, job_status=status,
                   priority=e.priority, attempts=e.attempts, max_attempts=e.max_attempts, not_before=e.not_before,
                   lease_owner=e.lease_owner, lease_expires_at=e.lease_expires_at, heartbeat_at=e.heartbeat_at,
                   needs=dict(e.needs or {}), cpu_s=e.cpu_s, run_s=e.run_s, error_kind=e.error_kind,
                   last_error=e.last_error, cancel_requested=e.cancel_requested, submitted_at=e.submitted_at)


def _immediate_engine(url: str) -> Engine:
    """A SQLite engine whose transactions start with BEGIN IMMEDIATE: the write lock is taken before the first
    read, so a claim's read-decide-write cannot interleave with another process's (pysqlite's own BEGIN is
    deferred). One connection per use (NullPool): claims are rare, and no lock outlives a transaction."""
    engine = create_engine(url, future=True, poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver issues no BEGIN of its own
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


__all__ = ["Claim", "Fits", "JobView", "Queue", "QueueError", "Quota"]
