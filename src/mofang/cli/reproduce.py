"""`mofang reproduce PRODUCT@V`: rerun a reproducible product's build from its manifest in a fresh job and say,
field by field, whether the test metrics and the model digest match (and how this environment differs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mofang.cli.common import allow, err, fail, open_meta, out, product_version
from mofang.core.errors import MofangError

EXIT_DIFFERENT = 1


def reproduce(ref: Annotated[str, typer.Argument(help="PRODUCT@VERSION (or PRODUCT, PRODUCT@ALIAS) built with "
                                                      "`reproducible: true`")],
              tenant: Annotated[str | None, typer.Option()] = None,
              as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON")] = False) -> None:
    """Rerun a reproducible product from its build manifest (same order, same data, a new job that is not
    delivered) and compare metric by metric, the model digest and the environment; exit 0 when identical."""
    from mofang.core.config import settings
    from mofang.integration.manifest import MANIFEST_FILE, compare, environment
    from mofang.line.runner import stations_for
    from mofang.orders.schema import Order
    from mofang.scheduling.foreground import run_here
    from mofang.scheduling.submit import submit
    from mofang.security.vault import open_vault
    from mofang.station import ConsoleProgress, SilentProgress
    from mofang.store.artifacts import ArtifactStore

    try:
        meta = open_meta()
        name, version, identity = product_version(meta, ref, tenant, "product.read")
        owner = version.product.tenant_id
        vault = open_vault(meta, settings().home)
        path = Path(version.bundle_path) / MANIFEST_FILE
        if not path.exists():
            raise MofangError(f"{name}@{version.version} was not built reproducibly (its bundle has no "
                              f"{MANIFEST_FILE}); run its order with `reproducible: true` or "
                              "`mofang run --reproducible`")
        recorded = json.loads(vault.read_any(owner, path))
        allow(meta, "order.submit", owner, what=f"tenant '{owner}'")
        order = Order.model_validate({**recorded["order"], "reproducible": True})
        job_id = submit(order, meta, actor=identity.user)
        if not as_json:
            out.print(f"reproducing [bold]{name}@{version.version}[/] (job {version.job_id}) as job {job_id}, "
                      "not delivered")
        # the line without its delivery station: the rebuilt bundle stays in the job's folder, no new version
        stations = [s for s in stations_for(order) if s.name != "delivery"]
        outcome = run_here(job_id, meta, progress=SilentProgress() if as_json else ConsoleProgress(),
                           stations=stations)
        rebuilt: dict[str, Any] | None = None
        rebuilt_path = ArtifactStore(settings().home).job_dir(owner, job_id) / "bundle" / MANIFEST_FILE
        if rebuilt_path.exists():
            rebuilt = json.loads(vault.read_any(owner, rebuilt_path, order=order.id))
    except MofangError as exc:
        raise fail(exc) from None
    if outcome.outcome != "done":
        err.print(f"[red]the rerun (job {job_id}) ended {outcome.outcome}[/]: "
                  f"{outcome.error or 'see mofang orders show'}")
    result = compare(recorded, rebuilt, environment())
    result.update(product=f"{name}@{version.version}", recorded_job=version.job_id, job=job_id,
                  job_outcome=outcome.outcome)
    if as_json:
        out.print_json(json.dumps(result, default=str))
    else:
        _print(result)
    if not result["identical"]:
        raise typer.Exit(EXIT_DIFFERENT)


def _print(result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"{result['product']}: recorded (job {result['recorded_job']}) vs rebuilt (job "
                        f"{result['job']})")
    for column in ("kind", "field", "recorded", "now", ""):
        table.add_column(column)
    environment = ("environment", "library", "code", "hardware")
    for row in result["fields"]:
        if row["kind"] in environment and row["same"] and row["kind"] == "library":
            continue  # the library table lists differences only (the manifest lists every version)
        mark = "[green]same[/]" if row["same"] else "[red]different[/]"
        table.add_row(row["kind"], row["field"], _short(row["recorded"]), _short(row["now"]), mark)
    out.print(table)
    libs = [r for r in result["fields"] if r["kind"] == "library"]
    out.print(f"libraries: {sum(r['same'] for r in libs)} of {len(libs)} at the recorded version")
    if result["identical"]:
        out.print("[bold green]identical[/]: every test metric and the model digest match the recorded build"
                  + ("" if result["environment_same"] else " (in a different environment, listed above)"))
    else:
        err.print("[bold red]not identical[/]: the fields marked different above differ from the recorded build"
                  + ("" if result["environment_same"] else "; the environment differs too (listed above)"))


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:16] + "…" + text[-16:]
