"""CLI of the product engineering center: serve, promote/rollback aliases, improve, and the marketplace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mofang.cli.common import allow, err, fail, open_meta, out, product_version, scoped_view, visible_tenant
from mofang.core.errors import MofangError

products_app = typer.Typer(help="Delivered products and their versions.", no_args_is_help=True)
market_app = typer.Typer(help="The marketplace: product versions tenants share as models (never their data).",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `serve`, `improve`, `products` and `market` to the main CLI."""
    app.command()(serve)
    app.command()(improve)
    products_app.command("promote")(promote)
    products_app.command("rollback")(rollback)
    app.add_typer(products_app, name="products")
    app.add_typer(market_app, name="market")



def serve(refs: Annotated[list[str], typer.Argument(help="PRODUCT, PRODUCT@VERSION, PRODUCT@ALIAS or "
                                                         "market:NAME@VERSION; several are mounted under "
                                                         "/products/NAME/")],
          host: Annotated[str, typer.Option()] = "127.0.0.1",
          port: Annotated[int, typer.Option()] = 8000,
          tenant: Annotated[str | None, typer.Option()] = None,
          batching: Annotated[bool, typer.Option(help="Coalesce concurrent /predict requests")] = True) -> None:
    """Serve product versions over HTTP (POST /predict or /ask, /feedback, /drift, /metrics, /health, /docs)."""
    import uvicorn

    from mofang.integration.bundle import open_bundle
    from mofang.products.market import is_market_ref, open_listing
    from mofang.products.multi import Served, serving_app
    from mofang.security.authz import product_guard
    from mofang.security.identity import local_identity
    served: list[Served] = []
    try:
        meta = open_meta()
        identity = local_identity(meta)
        for ref in refs:
            if is_market_ref(ref):  # a listing is served in the caller's own tenant
                allow(meta, "product.serve", identity.tenant, what=f"tenant '{identity.tenant}'")
                bundle, listing = open_listing(meta, ref, identity.tenant)
                owner, number = identity.tenant, listing.version
            else:
                name, version, identity = product_version(meta, ref, tenant, "product.serve")
                owner, number = version.product.tenant_id, version.version
                bundle = open_bundle(version.bundle_path, owner, meta)
            guard = None if identity.bootstrap or owner is None else product_guard(meta, owner)
            served.append(Served(bundle, number, guard))
        application = serving_app(served, store=meta, batching=batching)
    except MofangError as exc:
        raise fail(exc) from None
    for item in served:
        where = "" if len(served) == 1 else f"/products/{item.name}"
        out.print(f"serving {item.name}@{item.version} on http://{host}:{port}{where}  "
                  f"(docs: {where}/docs, with an API key of its tenant)")
    if any(item.guard is None for item in served):
        err.print("[yellow]no API keys exist yet: the endpoint is open; create keys with `mofang keys create`[/]")
    # no per-request access log: it cost more than a one-row prediction; calls are audited per caller and minute
    uvicorn.run(application, host=host, port=port, log_level="info", access_log=False)


def promote(ref: Annotated[str, typer.Argument(help="PRODUCT@VERSION (or PRODUCT@ALIAS) to promote")],
            alias: Annotated[str, typer.Option(help="The alias to point at it")] = "champion",
            tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Point an alias (champion, challenger, any name) of a product at a version."""
    from mofang.products import registry
    try:
        meta = open_meta()
        name, version, identity = product_version(meta, ref, tenant, "product.promote")
        owner = version.product.tenant_id
        registry.promote(meta, owner, name, version.version, alias, actor=identity.user)
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"{name}@{alias} → v{version.version}")


def rollback(name: Annotated[str, typer.Argument(help="The product whose champion goes back")],
             tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Move a product's champion back to the previous champion."""
    from mofang.products import registry
    try:
        meta = open_meta()
        _, version, identity = product_version(meta, name, tenant, "product.promote")
        before, after = registry.rollback(meta, version.product.tenant_id, name, actor=identity.user)
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"{name}@champion: v{before} → v{after}")


def improve(product: Annotated[str, typer.Argument(help="The product to retrain with its feedback")],
            tenant: Annotated[str | None, typer.Option()] = None,
            min_feedback: Annotated[int, typer.Option(help="New feedback rows needed to start")] = 1) -> None:
    """Retrain a product on its order's data plus its feedback; promote the result only if it beats the champion."""
    from mofang.scheduling.improve import improve as run_improvement
    from mofang.station import ConsoleProgress
    try:
        meta = open_meta()
        _, version, identity = product_version(meta, product, tenant, "product.improve")
        decision = run_improvement(meta, version.product.tenant_id, product, actor=identity.user,
                                   progress=ConsoleProgress(), min_feedback=min_feedback)
    except MofangError as exc:
        raise fail(exc) from None
    colour = {"promoted": "green", "kept": "yellow"}.get(decision.decision, "red")
    out.print(f"\n[bold {colour}]{decision.decision}[/] (job {decision.job_id}, {decision.feedback_rows} "
                  f"feedback rows): {decision.reason}")
    if decision.decision in ("failed", "rejected"):
        raise typer.Exit(1)


@market_app.command("list")
def market_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False) -> None:
    """List the catalog: every published product version with its publisher and evaluation."""
    from mofang.products.market import catalog
    from mofang.security.identity import local_identity
    try:
        meta = open_meta()
        identity = local_identity(meta)
        allow(meta, "market.read", identity.tenant, what="market")
        listings = catalog(meta)  # public by design: the one cross-tenant read (see products.market)
    except MofangError as exc:
        raise fail(exc) from None
    if as_json:
        out.print_json(json.dumps([{k: v for k, v in x.items() if k != "card"} for x in listings],
                                      ensure_ascii=False))
        return
    table = Table("listing", "publisher", "task", "family", "metrics", "published")
    for x in listings:
        metrics = "  ".join(f"{k}={v:.3f}" for k, v in x["metrics"].items() if isinstance(v, int | float))
        table.add_row(x["ref"], x["publisher"], x["task"], x["family"], metrics, x["published_at"][:16])
    out.print(table)


@market_app.command("publish")
def market_publish(ref: Annotated[str, typer.Argument(help="PRODUCT, PRODUCT@VERSION or PRODUCT@ALIAS")],
                   tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Publish a product version to the catalog: its model, schema and card travel; its data never does."""
    from mofang.products.market import publish
    try:
        meta = open_meta()
        name, version, identity = product_version(meta, ref, tenant, "product.publish")
        listing = publish(meta, version.product.tenant_id, f"{name}@{version.version}", actor=identity.user)
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"published market:{listing.name}@{listing.version} (model, schema, model card; no data)")


@market_app.command("unpublish")
def market_unpublish(ref: Annotated[str, typer.Argument(help="PRODUCT (every version) or PRODUCT@VERSION")],
                     tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Withdraw your listing from the catalog (servers already running it keep their copy until restarted)."""
    from mofang.products.market import unpublish
    from mofang.security.identity import local_identity
    try:
        meta = open_meta()
        identity = local_identity(meta)
        owner = visible_tenant(meta, tenant)
        if owner is None:
            raise MofangError("name the tenant whose listing to withdraw (--tenant)")
        allow(meta, "product.publish", owner, what=f"published listing '{ref}'")
        count = unpublish(meta, owner, ref, actor=identity.user)
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"withdrew {count} listing(s) of {ref}")


@products_app.command("list")
def products_list(tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """List products and their latest version."""
    table = Table("tenant", "product", "task", "versions", "latest", "family", "metrics")
    try:
        meta = open_meta()
        products = scoped_view(meta).products(visible_tenant(meta, tenant))
    except MofangError as exc:
        raise fail(exc) from None
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
        meta = open_meta()
        name, version, _ = product_version(meta, ref, tenant, "product.read")
    except MofangError as exc:
        raise fail(exc) from None
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
        meta = open_meta()
        name, version, _ = product_version(meta, ref, tenant, "product.read")
        owner = version.product.tenant_id
        source = Path(version.bundle_path) / ("model_card.md" if card else "report.html")
        out_file.write_bytes(open_vault(meta, settings().home).read_any(owner, source))
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"{'model card' if card else 'report'} of {name}@{version.version} written to {out_file}")
