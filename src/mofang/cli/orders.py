"""`mofang orders`: orders, their jobs station by station, and their reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mofang.cli.common import allow, fail, open_meta, out, scoped_view, visible_tenant
from mofang.core.errors import MofangError, NotFoundError

orders_app = typer.Typer(help="Orders and their jobs.", no_args_is_help=True)

@orders_app.command("list")
def orders_list(tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None) -> None:
    """List orders with their latest job."""
    table = Table("tenant", "order", "task", "jobs", "latest job", "status", "created")
    try:
        meta = open_meta()
        records = scoped_view(meta).orders(visible_tenant(meta, tenant))
    except MofangError as exc:
        raise fail(exc) from None
    for record in records:
        last = record.jobs[-1] if record.jobs else None
        table.add_row(record.tenant_id, record.order_id, record.task, str(len(record.jobs)),
                      str(last.id) if last else "-", last.status if last else "-",
                      f"{record.created_at:%Y-%m-%d %H:%M}")
    out.print(table)


@orders_app.command("show")
def orders_show(order_id: str, tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Show an order's jobs, stations, processes and the reasons for each choice."""
    try:
        meta = open_meta()
        record = scoped_view(meta).order(order_id, visible_tenant(meta, tenant))
        allow(meta, "order.read", record.tenant_id, what=f"order '{order_id}'")
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"[bold]{record.order_id}[/] tenant={record.tenant_id} task={record.task}")
    for job in record.jobs:
        out.print(f"\n[bold]job {job.id}[/] {job.status} ({job.elapsed_s:.1f}s)"
                  + (f" — [red]{job.error}[/]" if job.error else ""))
        for station in job.stations:
            out.print(f"  {station.station}: {station.status}")
            for process in station.processes:
                seconds = ((process.finished_at - process.started_at).total_seconds()
                           if process.finished_at and process.started_at else 0.0)
                out.print(f"    {process.name:<12} {process.status:<11} {seconds:6.1f}s")
                for reason in process.reasons or []:
                    out.print(f"      [dim]· {reason}[/]")


@orders_app.command("report")
def orders_report(order_id: str,
                  out_file: Annotated[Path, typer.Option("--out", help="Where to write the HTML")] = Path(
                      "report.html"),
                  job_id: Annotated[int | None, typer.Option("--job", help="This job (default: the latest "
                                                                           "with a report)")] = None,
                  tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Decrypt an order's evaluation report (delivered or rejected) to a file you can open."""
    from mofang.core.config import settings
    from mofang.security.vault import open_vault

    try:
        meta = open_meta()
        record = scoped_view(meta).order(order_id, visible_tenant(meta, tenant))
        allow(meta, "order.read", record.tenant_id, what=f"order '{order_id}'")
        jobs = [j for j in record.jobs if (j.outcome or {}).get("report") and (job_id is None or j.id == job_id)]
        if not jobs:
            raise NotFoundError(f"order '{order_id}' has no report" + (f" from job {job_id}" if job_id else "")
                                + " (a job writes one when the evaluation center finishes)")
        job = jobs[-1]
        report = Path(job.outcome["report"])
        in_job = (settings().home / "tenants" / record.tenant_id / "jobs") in report.parents
        html = open_vault(meta, settings().home).read_any(  # a job's scratch: the order's key; a bundle: its place's
            record.tenant_id, report, order=record.order_id if in_job else None)
        out_file.write_bytes(html)
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"report of order {order_id} (job {job.id}, {job.status}) written to {out_file}")
