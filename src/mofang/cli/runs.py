"""`mofang run`, `resume` and `demo`: an order's job through the queue, run here with progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mofang.cli.common import EXIT_REJECTED, allow, err, fail, open_meta, out, scoped_view
from mofang.core.errors import MofangError


def finish(job_id: int) -> None:
    """Claim the queued job with a worker in this process (the path of `mofang worker`), run it with progress,
    then print its outcome."""
    from mofang.scheduling.foreground import run_here
    from mofang.station import ConsoleProgress

    meta = open_meta()
    try:
        outcome = run_here(job_id, meta, progress=ConsoleProgress(), note=lambda text: err.print(f"[dim]{text}[/]"))
    except KeyboardInterrupt:
        outcome = None
    except MofangError as exc:
        raise fail(exc) from None
    if outcome is None or outcome.outcome == "interrupted":
        err.print(f"\n[yellow]interrupted.[/] resume with: [bold]mofang resume {job_id}[/]")
        raise typer.Exit(130)
    if outcome.outcome == "failed":
        err.print(f"[bold red]failed:[/] {outcome.error}")
        err.print(f"fix the cause, then resume with: [bold]mofang resume {job_id}[/]")
        raise typer.Exit(1)
    if outcome.outcome == "cancelled":
        err.print(f"[yellow]job {job_id} cancelled[/] by request; queue it again with: "
                  f"[bold]mofang jobs retry {job_id}[/]")
        raise typer.Exit(1)
    job = meta.job(job_id)
    print_outcome(job)
    if job.status == "rejected":
        raise typer.Exit(EXIT_REJECTED)


def print_outcome(job) -> None:
    outcome = job.outcome or {}
    metrics = outcome.get("metrics") or {}
    shown = "  ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, int | float))
    colour = "green" if job.status == "done" else "red"
    out.print(f"\n[bold {colour}]job {job.id} {job.status}[/] in {job.elapsed_s:.1f}s — {shown}")
    if outcome.get("failed_checks"):
        out.print(f"[red]acceptance gate failed:[/] {', '.join(outcome['failed_checks'])}")
    if outcome.get("product"):
        ref = f"{outcome['product']}@{outcome['version']}"
        out.print(f"report:  mofang products report {ref} --out report.html   (stored encrypted)")
    elif outcome.get("report"):
        out.print(f"report:  mofang orders report {(job.spec or {}).get('id')} --out report.html   (stored encrypted)")
    if outcome.get("product"):
        out.print(f"product: {ref}  ({outcome['bundle']})")
        out.print(f"serve:   mofang serve {ref} --port 8000   → http://127.0.0.1:8000/docs")


def run_order(order_file: Annotated[Path, typer.Argument(help="The order YAML file")],
              reproducible: Annotated[bool, typer.Option(
                  "--reproducible", help="Build reproducibly (the order's `reproducible: true`): a fixed plan of "
                                         "trials, seeded, deterministic, with a build manifest")] = False) -> None:
    """Validate an order, queue its job and run it here, in the foreground."""
    from mofang.core.terminal import progress_bar
    from mofang.orders import load_order
    from mofang.scheduling.submit import submit

    try:
        order = load_order(order_file)
        if reproducible:
            order = order.model_copy(update={"reproducible": True})
        meta = open_meta()
        identity = allow(meta, "order.submit", order.tenant, what=f"tenant '{order.tenant}'")
        with progress_bar(err, None, "admission", indent="  ", note="checking the order's sources") as bar:
            job_id = submit(order, meta, source_file=order_file, actor=identity.user, on_read=bar.update)
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"order [bold]{order.id}[/] (tenant {order.tenant}, {order.task}) → job {job_id}")
    finish(job_id)


def resume(job_id: Annotated[int, typer.Argument(help="The job to resume")]) -> None:
    """Resume an interrupted or failed job at its first unfinished process (queued again, then run here)."""
    from mofang.scheduling.foreground import requeue

    try:
        meta = open_meta()
        allow(meta, "job.resume", scoped_view(meta).job(job_id).tenant_id, what=f"job {job_id}")
        requeue(job_id, meta)
    except MofangError as exc:
        raise fail(exc) from None
    finish(job_id)


def demo(
    folder: Annotated[Path, typer.Option(help="Where to write the demo data and order")] = Path("demo"),
    rows: Annotated[int, typer.Option(help="Loan book rows")] = 6000,
    minutes: Annotated[float, typer.Option(help="Time budget of the order")] = 1.0,
    reproducible: Annotated[bool, typer.Option("--reproducible", help="Build the demo product reproducibly")] = False,
) -> None:
    """Generate the synthetic loan book, run its order end to end and query the served product."""
    from mofang.demo import write_demo

    order_file = write_demo(folder, rows=rows, minutes=minutes)
    out.print(f"demo data (synthetic, GBK): {folder / 'loan_book_gbk.csv'}\norder: {order_file}")
    try:
        run_order(order_file, reproducible=reproducible)
    except typer.Exit as exit_:
        if exit_.exit_code not in (0, None):
            raise
    _query_served_demo()


def _query_served_demo() -> None:
    """Start the delivered product's API on a free loopback port, score two rows, stop it."""
    from mofang.products.server import running_server

    meta = open_meta()
    version = meta.product_version("loan-default-demo", tenant="demo-bank")
    rows = [{"年龄": "35岁", "城市": "上海", "学历": "本科", "职业": "IT", "月收入": "¥1.5万",
             "贷款金额": "120,000", "期限": "24个月", "年利率": "9.5%", "负债收入比": "0.2",
             "历史逾期次数": "0", "申请日期": "2024/5/6"},
            {"年龄": 52, "城市": "成都", "学历": "高中", "职业": "个体户", "月收入": 6000,
             "贷款金额": 80000, "期限": 36, "年利率": "22%", "负债收入比": 0.62, "历史逾期次数": 3,
             "申请日期": "2024年7月1日"}]
    with running_server(version) as url:
        import httpx

        answer = httpx.post(f"{url}/predict", json={"rows": rows}, timeout=30).json()
        out.print(f"\nendpoint check: POST {url}/predict with 2 raw rows →")
        out.print(json.dumps(answer, ensure_ascii=False, indent=1))
