"""The `mofang` command line: thin views over the public entries of each unit."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mofang.core.errors import MofangError, NotFoundError
from mofang.core.terminal import console

app = typer.Typer(help="Mofang (模坊): an AI model factory — one order in, a served model product out.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
orders_app = typer.Typer(help="Orders and their jobs.", no_args_is_help=True)
products_app = typer.Typer(help="Delivered products and their versions.", no_args_is_help=True)
data_app = typer.Typer(help="The data workshop: inspect sources, run data recipes, list operators.",
                       no_args_is_help=True)
app.add_typer(orders_app, name="orders")
app.add_typer(products_app, name="products")
app.add_typer(data_app, name="data")


def _register_security() -> None:
    from mofang.cli_security import audit_app, destroy, keys_app, tenants_app

    app.add_typer(tenants_app, name="tenants")
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.command("destroy")(destroy)


def _register_devices() -> None:
    from mofang.cli_devices import devices_app

    app.add_typer(devices_app, name="devices")


def _register_scheduling() -> None:
    from mofang.cli_scheduling import register

    register(app)  # submit, worker, jobs list|cancel|retry|quota


def _register_products() -> None:
    from mofang.cli_products import register

    register(app, products_app)  # serve, improve, products promote|rollback, market list|publish|unpublish


def _register_bundle() -> None:
    from mofang.cli_bundle import register

    register(app, products_app)  # bundle verify, products export --edge|--mlflow


def _register_labeling() -> None:
    from mofang.cli_label import label_app

    app.add_typer(label_app, name="label")

# Piped output (scripts, CI logs) is never hard-wrapped: see mofang.core.terminal.
out = console()
err = console(stderr=True)

EXIT_REJECTED = 3


def _fail(exc: Exception, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code)


def _meta():
    from mofang.store import MetaStore

    return MetaStore()


def _allow(meta, action: str, tenant: str | None, what: str | None = None):
    """The CLI's identity (MOFANG_API_KEY, the identity file, or the bootstrap operator of a fresh install),
    authorized for `action` on an object of `tenant`; another tenant's object reads as not found."""
    from mofang.core.errors import NotFoundError
    from mofang.security.audit import ACCESS_DENIED, AuditLog
    from mofang.security.authz import Forbidden, authorize
    from mofang.security.identity import local_identity

    identity = local_identity(meta)
    try:
        authorize(identity, action, tenant, what=what)
    except (Forbidden, NotFoundError):  # the caller's own tenant only: the target's existence stays unsaid
        AuditLog(meta).record(ACCESS_DENIED, actor=identity.user, tenant=identity.tenant, object=action,
                              details={"via": "cli", "asked_for": what or ""})
        raise
    return identity


def _product_version(meta, ref: str, tenant: str | None, action: str):
    """The product version `ref` names (PRODUCT — its champion, else its latest —, PRODUCT@VERSION or
    PRODUCT@ALIAS), found among what the caller may see and authorized for `action`; returns
    (name, version, identity)."""
    from mofang.products.registry import parse_ref, resolve

    name = parse_ref(ref).name
    version = resolve(_view(meta), ref, _visible_tenant(meta, tenant))
    identity = _allow(meta, action, version.product.tenant_id, what=f"product '{name}'")
    return name, version, identity


def _view(meta):
    """The metadata store as the CLI's identity may see it: lookups are tenant-scoped at the chokepoint, so
    a forgotten filter still cannot show another tenant's rows."""
    from mofang.security.identity import local_identity
    from mofang.security.scope import TenantScope

    return meta.scoped(TenantScope.of(local_identity(meta)))


def _visible_tenant(meta, tenant: str | None) -> str | None:
    """The tenant a listing may show: a tenant identity sees only its own."""
    from mofang.security.identity import local_identity

    identity = local_identity(meta)
    if identity.is_operator or identity.bootstrap:
        return tenant
    if tenant not in (None, identity.tenant):
        raise NotFoundError(f"no tenant '{tenant}'")
    return identity.tenant


def _finish(job_id: int) -> None:
    """Claim the queued job with a worker in this process (the path of `mofang worker`), run it with progress,
    then print its outcome."""
    from mofang.scheduling.foreground import run_here
    from mofang.station import ConsoleProgress

    meta = _meta()
    try:
        outcome = run_here(job_id, meta, progress=ConsoleProgress(), note=lambda text: err.print(f"[dim]{text}[/]"))
    except KeyboardInterrupt:
        outcome = None
    except MofangError as exc:
        raise _fail(exc) from None
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
    _print_outcome(job)
    if job.status == "rejected":
        raise typer.Exit(EXIT_REJECTED)


def _print_outcome(job) -> None:
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


@app.command("run")
def run_order(order_file: Annotated[Path, typer.Argument(help="The order YAML file")]) -> None:
    """Validate an order, queue its job and run it here, in the foreground."""
    from mofang.orders import load_order
    from mofang.scheduling.submit import submit

    try:
        order = load_order(order_file)
        meta = _meta()
        identity = _allow(meta, "order.submit", order.tenant, what=f"tenant '{order.tenant}'")
        job_id = submit(order, meta, source_file=order_file, actor=identity.user)
    except MofangError as exc:
        raise _fail(exc) from None
    out.print(f"order [bold]{order.id}[/] (tenant {order.tenant}, {order.task.value}) → job {job_id}")
    _finish(job_id)


@app.command()
def resume(job_id: Annotated[int, typer.Argument(help="The job to resume")]) -> None:
    """Resume an interrupted or failed job at its first unfinished process (queued again, then run here)."""
    from mofang.scheduling.foreground import requeue

    try:
        meta = _meta()
        _allow(meta, "job.resume", _view(meta).job(job_id).tenant_id, what=f"job {job_id}")
        requeue(job_id, meta)
    except MofangError as exc:
        raise _fail(exc) from None
    _finish(job_id)


@app.command()
def demo(
    folder: Annotated[Path, typer.Option(help="Where to write the demo data and order")] = Path("demo"),
    rows: Annotated[int, typer.Option(help="Loan book rows")] = 6000,
    minutes: Annotated[float, typer.Option(help="Time budget of the order")] = 1.0,
) -> None:
    """Generate the synthetic loan book, run its order end to end and query the served product."""
    from mofang.demo import write_demo

    order_file = write_demo(folder, rows=rows, minutes=minutes)
    out.print(f"demo data (synthetic, GBK): {folder / 'loan_book_gbk.csv'}\norder: {order_file}")
    try:
        run_order(order_file)
    except typer.Exit as exit_:
        if exit_.exit_code not in (0, None):
            raise
    _query_served_demo()


def _query_served_demo() -> None:
    """Start the delivered product's API on a free loopback port, score two rows, stop it."""
    from mofang.products.server import running_server

    meta = _meta()
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


@orders_app.command("list")
def orders_list(tenant: Annotated[str | None, typer.Option(help="Only this tenant")] = None) -> None:
    """List orders with their latest job."""
    table = Table("tenant", "order", "task", "jobs", "latest job", "status", "created")
    try:
        meta = _meta()
        records = _view(meta).orders(_visible_tenant(meta, tenant))
    except MofangError as exc:
        raise _fail(exc) from None
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
        meta = _meta()
        record = _view(meta).order(order_id, _visible_tenant(meta, tenant))
        _allow(meta, "order.read", record.tenant_id, what=f"order '{order_id}'")
    except MofangError as exc:
        raise _fail(exc) from None
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
        meta = _meta()
        record = _view(meta).order(order_id, _visible_tenant(meta, tenant))
        _allow(meta, "order.read", record.tenant_id, what=f"order '{order_id}'")
        jobs = [j for j in record.jobs if (j.outcome or {}).get("report") and (job_id is None or j.id == job_id)]
        if not jobs:
            raise NotFoundError(f"order '{order_id}' has no report" + (f" from job {job_id}" if job_id else "")
                                + " (a job writes one when the evaluation center finishes)")
        job = jobs[-1]
        report = Path(job.outcome["report"])
        in_job = (settings().home / "tenants" / record.tenant_id / "jobs") in report.parents
        html = open_vault(meta, settings().home).read_any(  # a job's scratch: the order's key; a bundle: the tenant's
            record.tenant_id, report, order=record.order_id if in_job else None)
        out_file.write_bytes(html)
    except MofangError as exc:
        raise _fail(exc) from None
    out.print(f"report of order {order_id} (job {job.id}, {job.status}) written to {out_file}")


@products_app.command("list")
def products_list(tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """List products and their latest version."""
    table = Table("tenant", "product", "task", "versions", "latest", "family", "metrics")
    try:
        meta = _meta()
        products = _view(meta).products(_visible_tenant(meta, tenant))
    except MofangError as exc:
        raise _fail(exc) from None
    for product in products:
        latest = product.versions[-1] if product.versions else None
        metrics = "  ".join(f"{k}={v:.3f}" for k, v in (latest.metrics if latest else {}).items()
                            if isinstance(v, int | float))
        table.add_row(product.tenant_id, product.name, product.task, str(len(product.versions)),
                      str(latest.version) if latest else "-", latest.model_family if latest else "-", metrics)
    out.print(table)


@products_app.command("show")
def products_show(ref: Annotated[str, typer.Argument(help="PRODUCT, PRODUCT@VERSION or PRODUCT@ALIAS")],
                  tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Show a product version: metrics, bundle, report and model card."""
    try:
        meta = _meta()
        name, version, _ = _product_version(meta, ref, tenant, "product.read")
    except MofangError as exc:
        raise _fail(exc) from None
    bundle = Path(version.bundle_path)
    out.print(f"[bold]{name}@{version.version}[/] ({version.model_family}, job {version.job_id})")
    from mofang.products.registry import aliases, lineage

    owner = version.product.tenant_id
    out.print(f"aliases: {aliases(meta, owner, name)}  lineage: {lineage(meta, owner, name, version.version)}")
    out.print(json.dumps(version.metrics, indent=1))
    out.print(f"bundle: {bundle} (encrypted at rest)")
    out.print(f"report: mofang products report {name}@{version.version} --out report.html")


@products_app.command("report")
def products_report(ref: Annotated[str, typer.Argument(help="PRODUCT, PRODUCT@VERSION or PRODUCT@ALIAS")],
                    out_file: Annotated[Path, typer.Option("--out", help="Where to write the HTML")] = Path(
                        "report.html"),
                    card: Annotated[bool, typer.Option(help="The model card (markdown) instead")] = False,
                    tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Decrypt a product version's evaluation report (or model card) to a file you can open."""
    from mofang.core.config import settings
    from mofang.security.vault import open_vault

    try:
        meta = _meta()
        name, version, _ = _product_version(meta, ref, tenant, "product.read")
        owner = version.product.tenant_id
        source = Path(version.bundle_path) / ("model_card.md" if card else "report.html")
        out_file.write_bytes(open_vault(meta, settings().home).read_any(owner, source))
    except MofangError as exc:
        raise _fail(exc) from None
    out.print(f"{'model card' if card else 'report'} of {name}@{version.version} written to {out_file}")


@data_app.command("run")
def data_run(recipe_file: Annotated[Path, typer.Argument(help="A data job: sources, recipe steps, output")]) -> None:
    """Run a data recipe over its sources and publish a dataset version with its data card."""
    from mofang.core.config import settings
    from mofang.data.job import load_data_job, run_data_job
    from mofang.station import ConsoleProgress

    try:
        job = load_data_job(recipe_file)
        result = run_data_job(job, home=settings().home, progress=ConsoleProgress())
    except MofangError as exc:
        raise _fail(exc) from None
    out.print(f"\n[bold green]dataset {result['digest'][:12]}[/]: {result['rows']:,} rows in {result['output']}")
    out.print(f"data card: {result['card']}")


@data_app.command("inspect")
def data_inspect(target: Annotated[str, typer.Argument(help="A file, folder, archive or SQLAlchemy URL")],
                 table: Annotated[str | None, typer.Option(help="Table to read (with a URL)")] = None,
                 query: Annotated[str | None, typer.Option(help="SELECT to read (with a URL)")] = None,
                 as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False) -> None:
    """Profile a source and scan it for personal data; writes nothing."""
    from mofang.data.inspect import inspect_target

    try:
        report = inspect_target(target, table=table, query=query)
    except MofangError as exc:
        raise _fail(exc) from None
    if as_json:
        out.print_json(json.dumps(report, ensure_ascii=False, default=str))
        return
    how = ", ".join(f"{k} {v!r}" for k, v in (("encoding", report["encoding"]), ("separator", report["separator"]))
                    if v)
    out.print(f"[bold]{report['target']}[/]: {report['format']}{' (' + how + ')' if how else ''}, "
              f"{report['rows']:,} rows × {len(report['columns'])} columns")
    table_view = Table("column", "kind", "missing", "distinct", "samples", "personal data")
    for column in report["columns"]:
        found = report["pii"].get(column["name"])
        if found is None:
            pii = ""
        elif found["scope"] == "column":
            pii = f"{found['kind']} ({found['share']:.0%} of values)"
        else:
            pii = ", ".join(f"{k} ×{v['found']}" for k, v in found["kinds"].items())
        table_view.add_row(column["name"], column["kind"], f"{column['missing_ratio']:.1%}",
                           f"{column['distinct']:,}", " | ".join(map(str, column["samples"])), pii)
    out.print(table_view)


@data_app.command("ops")
def data_ops() -> None:
    """List the registered data operators with their process and params."""
    from mofang.data.ops import operators

    table = Table("operator", "process", "what it does", "params (default)")
    for name, cls in operators().items():
        params = ", ".join(f"{k}={f.default!r}" for k, f in cls.Params.model_fields.items())
        table.add_row(name, cls.process, cls.description, params)
    out.print(table)


_register_security()
_register_scheduling()
_register_labeling()
_register_devices()
__import__("mofang.cli_portal", fromlist=["register"]).register(app)  # portal: API + web pages
_register_products()
_register_bundle()


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
