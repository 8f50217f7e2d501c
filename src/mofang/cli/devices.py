"""`mofang devices [health]`: the device management center's commands (thin views over mofang.devices)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from mofang.cli.common import allow, fail, open_meta, out
from mofang.core.errors import MofangError

devices_app = typer.Typer(help="Machines of this factory: CPUs, memory, disk, GPUs and their health (operators).",
                          invoke_without_command=True)

_COLOUR = {"ok": "green", "warn": "yellow", "fail": "red"}
GiB = 1024**3



def _report() -> tuple[list[Any], list[Any]]:
    """Authorize `devices.read` (operators; the inventory belongs to no tenant), then take the inventory
    and run the health checks against this installation's metadata store."""
    from mofang.devices import health, inventory
    meta = open_meta()
    allow(meta, "devices.read", None, what="devices")
    nodes = inventory()
    return nodes, health(nodes, meta=meta)


@devices_app.callback()
def devices(ctx: typer.Context,
            as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False) -> None:
    """List the nodes of this factory: CPUs, memory, disk, GPUs and health."""
    if ctx.invoked_subcommand is not None:
        return
    from mofang.devices import worst
    try:
        nodes, checks = _report()
    except MofangError as exc:
        raise fail(exc) from None
    if as_json:
        out.print_json(json.dumps({"nodes": [n.to_dict() for n in nodes],
                                       "health": {"status": worst(checks), "checks": [c.to_dict() for c in checks]}}))
        return
    table = Table("node", "kind", "CPUs", "memory free / usable", "disk free / total", "GPUs", "health")
    for node in nodes:
        mine = [c for c in checks if c.node == node.name]
        status = worst(mine)
        problems = ", ".join(c.name for c in mine if c.status != "ok")
        table.add_row(node.name, node.kind, _cpus(node), _memory(node), _disk(node), _gpus(node),
                      f"[{_COLOUR[status]}]{status}[/]" + (f" ({problems})" if problems else ""))
    out.print(table)


@devices_app.command("health")
def devices_health(as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
                   ) -> None:
    """Run the health checks (disk, memory, load, GPUs, metadata DB, MOFANG_HOME); exit 1 when any fails."""
    from mofang.devices import worst
    try:
        _, checks = _report()
    except MofangError as exc:
        raise fail(exc) from None
    status = worst(checks)
    if as_json:
        out.print_json(json.dumps({"status": status, "checks": [c.to_dict() for c in checks]}))
    else:
        table = Table("node", "check", "status", "detail")
        for check in checks:
            table.add_row(check.node, check.name, f"[{_COLOUR[check.status]}]{check.status}[/]", check.detail)
        out.print(table)
        out.print(f"health: [{_COLOUR[status]}]{status}[/]")
    if status == "fail":
        raise typer.Exit(1)


def _cpus(node: Any) -> str:
    limits = [f"quota {node.cpu_quota:g}" if node.cpu_quota else "",
              f"affinity {node.cpus_allowed}" if node.cpus_allowed and node.cpus_allowed < node.cpus_logical else ""]
    shown = ", ".join(x for x in limits if x)
    load = f" load {node.load_avg[0]:.2f}" if node.load_avg else ""
    return f"{node.cpus:g} of {node.cpus_logical}" + (f" ({shown})" if shown else "") + load


def _memory(node: Any) -> str:
    capped = " (cgroup)" if node.memory_limit and node.memory_limit < node.memory_total else ""
    free = f"{node.memory_free / GiB:.1f}" if node.memory_available is not None else "?"
    return f"{free} / {node.memory_usable / GiB:.1f} GB{capped}"


def _disk(node: Any) -> str:
    return ", ".join(f"{d.free / GiB:.0f} / {d.total / GiB:.0f} GB" for d in node.disks) or "-"


def _gpus(node: Any) -> str:
    if not node.gpus:
        return "-"
    parts = []
    for gpu in node.gpus:
        memory = f" {(gpu.memory_used or 0) / GiB:.0f}/{gpu.memory_total / GiB:.0f} GB" if gpu.memory_total else ""
        util = f" {gpu.utilization_pct:.0f}%" if gpu.utilization_pct is not None else ""
        temp = f" {gpu.temperature_c:.0f}°C" if gpu.temperature_c is not None else ""
        parts.append(f"{gpu.index}: {gpu.name}{memory}{util}{temp}")
    return "\n".join(parts)
