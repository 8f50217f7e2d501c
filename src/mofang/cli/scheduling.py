"""The scheduling commands: `mofang submit`, `mofang worker`, `mofang jobs list|cancel|retry|quota`.

Registered on the main app by `register(app)`; `python -m mofang.cli.scheduling` runs them on their own.
Authorization follows the other commands: a job is looked up through the caller's tenant scope (another
tenant's job reads as "not found") and the action is authorized on its tenant.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mofang.cli.common import allow, err, fail, open_meta, out, role_hint, scoped_view, visible_tenant
from mofang.core.errors import MofangError

jobs_app = typer.Typer(help="Queued and running jobs: list, cancel, retry, tenant quotas.", no_args_is_help=True)



def operator_identity(meta, action: str):
    """The CLI's identity when it is the factory operator (or the bootstrap operator); refused otherwise."""
    from mofang.security.audit import ACCESS_DENIED, AuditLog
    from mofang.security.authz import Forbidden
    from mofang.security.identity import local_identity

    identity = local_identity(meta)
    if not (identity.is_operator or identity.bootstrap):
        AuditLog(meta).record(ACCESS_DENIED, actor=identity.user, tenant=identity.tenant, object=action,
                              details={"via": "cli"})
        raise Forbidden(f"{identity.user} ({identity.role}) may not {action} (operators only). "
                        f"{role_hint(identity, action, ('operator',))}")
    return identity


def _queue(meta):
    from mofang.scheduling.queue import Queue

    return Queue(meta)


def _job_tenant(meta, job_id: int, action: str) -> str:
    """The job's tenant, found through the caller's scope and authorized for `action`."""
    tenant = scoped_view(meta).job(job_id).tenant_id
    allow(meta, action, tenant, what=f"job {job_id}")
    return tenant


def submit(order_file: Annotated[Path, typer.Argument(help="The order YAML file")],
           priority: Annotated[int, typer.Option(help="Higher runs first among the tenant's queued jobs")] = 0,
           max_attempts: Annotated[int | None, typer.Option(help="Attempts before a transient failure is "
                                                                 "final (default 3)")] = None) -> None:
    """Validate and admit an order, then queue its job for the workers (`mofang worker`) without running it."""
    from mofang.core.terminal import progress_bar
    from mofang.orders import load_order
    from mofang.scheduling.submit import submit as queue_order
    try:
        order = load_order(order_file)
        meta = open_meta()
        identity = allow(meta, "order.submit", order.tenant, what=f"tenant '{order.tenant}'")
        with progress_bar(err, None, "admission", indent="  ", note="checking the order's sources") as bar:
            job_id = queue_order(order, meta, priority=priority, max_attempts=max_attempts, source_file=order_file,
                                 actor=identity.user, on_read=bar.update)
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"order [bold]{order.id}[/] (tenant {order.tenant}, {order.task}) → job {job_id} queued"
                  f" (priority {priority}); run workers with: [bold]mofang worker[/]")


def worker(workers: Annotated[int, typer.Option("-n", "--workers", help="Worker processes on this machine")] = 1,
           executor: Annotated[str, typer.Option(help="local (a process per worker) or ray (jobs as Ray tasks; "
                                                      "the default when MOFANG_RAY_ADDRESS is set)")] = "",
           once: Annotated[bool, typer.Option("--once", help="Exit when nothing is queued or running")] = False,
           metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus metrics on this port")] = None,
           slots: Annotated[int, typer.Option(help="Ray: jobs in flight per worker")] = 2,
           line: Annotated[str | None, typer.Option(hidden=True, help="module:attribute of a station list")] = None
           ) -> None:
    """Run workers that take jobs from the queue, keep their leases alive and resume jobs left by dead ones."""
    import os

    from mofang.scheduling.worker import WorkerSpec, supervise
    chosen = executor or ("ray" if os.environ.get("MOFANG_RAY_ADDRESS") else "local")
    try:
        if chosen not in ("local", "ray"):
            raise MofangError(f"unknown executor '{chosen}' (expected: local, ray)")
        operator_identity(open_meta(), "worker.run")
        spec = WorkerSpec(executor=chosen, once=once, line=line, slots=max(1, slots))
        where = f", metrics on http://127.0.0.1:{metrics_port}/metrics" if metrics_port else ""
        err.print(f"{workers} {chosen} worker{'s' if workers != 1 else ''}{where}; logs in "
                      f"{_home() / 'logs'}")
        code = supervise(spec, workers, metrics_port=metrics_port)
    except MofangError as exc:
        raise fail(exc) from None
    if code:
        raise typer.Exit(code)


def _home() -> Path:
    from mofang.core.config import settings

    return settings().home


@jobs_app.command("list")
def jobs_list(tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None,
              state: Annotated[str | None, typer.Option(help="Only this state (held, queued, leased, done, "
                                                             "rejected, failed, cancelled)")] = None,
              limit: Annotated[int, typer.Option(help="Newest N")] = 50) -> None:
    """List jobs in the queue: state, priority, attempts, declared needs (CPUs, memory, GPUs), lease and the
    last error."""
    from mofang.scheduling.placement import needs_from
    from mofang.scheduling.tables import STATES
    try:
        if state is not None and state not in STATES:
            raise MofangError(f"unknown state '{state}' (expected: {', '.join(STATES)})")
        meta = open_meta()
        queue = _queue(scoped_view(meta))
        views = queue.jobs(tenant=visible_tenant(meta, tenant), states=(state,) if state else None, limit=limit)
        queue.close()
    except MofangError as exc:
        raise fail(exc) from None
    table = Table("job", "tenant", "order", "state", "job status", "prio", "attempts", "cpus", "mem GB", "gpu",
                  "cpu s", "when", "last error")
    now = time.time()
    for v in views:
        if v.state == "leased":
            when = f"{v.lease_owner} (beat {now - (v.heartbeat_at or now):.0f}s ago)"
        elif v.state == "queued" and v.not_before > now:
            when = f"retry in {v.not_before - now:.0f}s"
        else:
            when = f"{v.submitted_at:%Y-%m-%d %H:%M}"
        needs = needs_from(v.needs, where=f"job {v.job_id}")
        error = f"[{v.error_kind}] {v.last_error}" if v.error_kind else ""
        table.add_row(str(v.job_id), v.tenant, v.order_id, v.state + (" (cancelling)" if v.cancel_requested else ""),
                      v.job_status, str(v.priority), f"{v.attempts}/{v.max_attempts}", f"{needs.cpus:g}",
                      f"{needs.memory_gb:g}", str(needs.gpu), f"{v.cpu_s:.1f}", when, error[:80])
    out.print(table)


@jobs_app.command("cancel")
def jobs_cancel(job_id: Annotated[int, typer.Argument(help="The job to cancel")]) -> None:
    """Cancel a queued job, or stop a running one (its worker interrupts it at the next heartbeat)."""
    try:
        meta = open_meta()
        _job_tenant(meta, job_id, "job.resume")
        queue = _queue(meta)
        state = queue.cancel(job_id)
        queue.close()
    except MofangError as exc:
        raise fail(exc) from None
    if state == "cancelling":
        out.print(f"job {job_id} is running: its worker stops it within a heartbeat")
    else:
        out.print(f"job {job_id} cancelled")


@jobs_app.command("retry")
def jobs_retry(job_id: Annotated[int, typer.Argument(help="The job to queue again")],
               priority: Annotated[int | None, typer.Option(help="A new priority")] = None) -> None:
    """Queue a failed, cancelled or interrupted job again (attempts reset); it resumes where it stopped."""
    try:
        meta = open_meta()
        _job_tenant(meta, job_id, "job.resume")
        queue = _queue(meta)
        queue.retry(job_id, priority=priority)
        queue.close()
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"job {job_id} queued again; it resumes at its first unfinished process")


@jobs_app.command("quota")
def jobs_quota(tenant: Annotated[str, typer.Argument(help="The tenant")],
               max_running: Annotated[int | None, typer.Option(help="Jobs running at once")] = None,
               cpu_minutes: Annotated[float | None, typer.Option(help="CPU minutes per UTC day")] = None,
               clear: Annotated[bool, typer.Option("--clear", help="Remove both limits")] = False) -> None:
    """Show or set a tenant's limits (operators only)."""
    from mofang.core.errors import NotFoundError
    from mofang.store.models import Tenant
    try:
        meta = open_meta()
        changing = max_running is not None or cpu_minutes is not None or clear
        operator_identity(meta, "quota.set" if changing else "quota.read")
        with meta.session() as s:
            if s.get(Tenant, tenant) is None:
                raise NotFoundError(f"no tenant '{tenant}'")
        queue = _queue(meta)
        current = queue.quota(tenant)
        if clear:
            current = queue.set_quota(tenant)
        elif max_running is not None or cpu_minutes is not None:
            keep_running, keep_cpu = current.max_running, current.cpu_minutes_per_day
            current = queue.set_quota(
                tenant, max_running=keep_running if max_running is None else max_running,
                cpu_minutes_per_day=keep_cpu if cpu_minutes is None else cpu_minutes)
        queue.close()
    except MofangError as exc:
        raise fail(exc) from None
    running = "no limit" if current.max_running is None else str(current.max_running)
    cpu = "no limit" if current.cpu_minutes_per_day is None else f"{current.cpu_minutes_per_day:g}"
    out.print(f"tenant {tenant}: jobs at once {running}; CPU minutes per day {cpu}")


def register(app: typer.Typer) -> None:
    """Add `submit`, `worker` and `jobs` to the main `mofang` app."""
    app.command("submit")(submit)
    app.command("worker")(worker)
    app.add_typer(jobs_app, name="jobs")


def standalone() -> typer.Typer:
    """These commands as an app of their own (`python -m mofang.cli.scheduling`)."""
    app = typer.Typer(help="Mofang scheduling service", no_args_is_help=True, add_completion=False,
                      pretty_exceptions_enable=False)
    register(app)
    return app


if __name__ == "__main__":  # pragma: no cover
    standalone()()
