"""Health checks per node (disk, memory pressure, load, GPU temperature and ECC, Ray liveness) and for the
factory's own services (the metadata DB, MOFANG_HOME writable); each gives ok, warn or fail with a detail."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mofang.core.config import settings
from mofang.devices.inventory import GiB, Node, inventory

if TYPE_CHECKING:
    from mofang.store import MetaStore

Status = Literal["ok", "warn", "fail"]
_RANK: dict[str, int] = {"ok": 0, "warn": 1, "fail": 2}


@dataclass(frozen=True)
class Thresholds:
    """Where ok turns to warn and warn to fail."""

    disk_free_warn_gb: float = 10.0
    disk_free_fail_gb: float = 2.0
    memory_free_warn: float = 0.15   # share of usable memory still free
    memory_free_fail: float = 0.05
    load_per_cpu_warn: float = 1.5   # 1-minute load average per usable CPU
    load_per_cpu_fail: float = 4.0
    gpu_temp_warn_c: float = 85.0    # used when the driver does not report its slowdown temperature
    gpu_temp_fail_c: float = 95.0
    db_slow_ms: float = 1000.0       # SELECT 1 slower than this warns


@dataclass(frozen=True)
class Check:
    """One health check's outcome on one node."""

    name: str
    status: Status
    detail: str
    node: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def worst(checks: Sequence[Check]) -> Status:
    """The worst status among `checks` ("ok" when there are none)."""
    return max((c.status for c in checks), key=_RANK.__getitem__, default="ok")


def health(nodes: Sequence[Node] | None = None, *, meta: MetaStore | None = None, home: Path | None = None,
           thresholds: Thresholds = Thresholds()) -> list[Check]:
    """Every check on every node (default: `inventory()`), then the factory's services from this machine:
    the metadata DB (when `meta` is given) and MOFANG_HOME (default: the configured home)."""

    nodes = inventory(home=home) if nodes is None else nodes
    checks = [check for node in nodes for check in node_checks(node, thresholds)]
    here = next((n.name for n in nodes if n.kind == "local"), "local")
    if meta is not None:
        checks.append(database_check(meta, here, thresholds))
    checks.append(home_check(home or settings().home, here))
    return checks


def node_checks(node: Node, limits: Thresholds = Thresholds()) -> list[Check]:
    """The checks that apply to `node`: a Ray node reports liveness and its GPUs' presence only."""
    if not node.alive:
        return [Check("alive", "fail", f"Ray reports node {node.name} ({node.hostname}) dead", node.name)]
    if node.kind == "ray":
        return [Check("alive", "ok", f"Ray node at {node.address or node.hostname}", node.name)]
    checks = [disk_check(node, limits), memory_check(node, limits)]
    if node.load_avg is not None:
        checks.append(load_check(node, limits))
    checks.extend(check for gpu_checks in (gpu_health(node, i, limits) for i in range(len(node.gpus)))
                  for check in gpu_checks)
    return checks


def disk_check(node: Node, limits: Thresholds = Thresholds()) -> Check:
    """Free space on each disk the node reports (MOFANG_HOME's filesystem) against the thresholds."""
    worst_disk = min(node.disks, key=lambda d: d.free, default=None)
    if worst_disk is None:
        return Check("disk", "warn", "no disk measured", node.name)
    free_gb, total_gb = worst_disk.free / GiB, worst_disk.total / GiB
    detail = f"{free_gb:.1f} GB free of {total_gb:.1f} GB at {worst_disk.path}"
    if free_gb < limits.disk_free_fail_gb:
        return Check("disk", "fail", f"{detail} (below {limits.disk_free_fail_gb:g} GB)", node.name)
    if free_gb < limits.disk_free_warn_gb:
        return Check("disk", "warn", f"{detail} (below {limits.disk_free_warn_gb:g} GB)", node.name)
    return Check("disk", "ok", detail, node.name)


def memory_check(node: Node, limits: Thresholds = Thresholds()) -> Check:
    """Memory pressure: the share of usable memory (cgroup-capped) still free."""
    usable = node.memory_usable
    if usable <= 0:
        return Check("memory", "warn", "memory not measured", node.name)
    share = node.memory_free / usable
    capped = " (cgroup limit)" if node.memory_limit and node.memory_limit < node.memory_total else ""
    detail = f"{node.memory_free / GiB:.1f} GB free of {usable / GiB:.1f} GB{capped} ({share:.0%})"
    if share < limits.memory_free_fail:
        return Check("memory", "fail", f"{detail}, below {limits.memory_free_fail:.0%}", node.name)
    if share < limits.memory_free_warn:
        return Check("memory", "warn", f"{detail}, below {limits.memory_free_warn:.0%}", node.name)
    return Check("memory", "ok", detail, node.name)


def load_check(node: Node, limits: Thresholds = Thresholds()) -> Check:
    """The 1-minute load average per usable CPU (quota and affinity count, not the machine's CPUs)."""
    assert node.load_avg is not None
    cpus = node.cpus or 1.0
    per_cpu = node.load_avg[0] / cpus
    detail = (f"load {node.load_avg[0]:.2f} / {node.load_avg[1]:.2f} / {node.load_avg[2]:.2f} on "
              f"{cpus:g} CPUs ({per_cpu:.2f} per CPU)")
    if per_cpu > limits.load_per_cpu_fail:
        return Check("load", "fail", f"{detail}, above {limits.load_per_cpu_fail:g}", node.name)
    if per_cpu > limits.load_per_cpu_warn:
        return Check("load", "warn", f"{detail}, above {limits.load_per_cpu_warn:g}", node.name)
    return Check("load", "ok", detail, node.name)


def gpu_health(node: Node, index: int, limits: Thresholds = Thresholds()) -> list[Check]:
    """Temperature (against the driver's slowdown point when known) and uncorrected ECC errors of one GPU;
    a reading NVML does not support is left out."""
    gpu = node.gpus[index]
    name, checks = f"gpu{gpu.index}", []
    if gpu.temperature_c is not None:
        fail = gpu.temperature_slowdown_c or limits.gpu_temp_fail_c
        warn = min(limits.gpu_temp_warn_c, fail - 5)
        detail = f"{gpu.name}: {gpu.temperature_c:.0f} °C (slows down at {fail:.0f} °C)"
        status: Status = "fail" if gpu.temperature_c >= fail else "warn" if gpu.temperature_c >= warn else "ok"
        checks.append(Check(f"{name}.temperature", status, detail, node.name))
    if gpu.ecc_uncorrected is not None:
        status = "fail" if gpu.ecc_uncorrected > 0 else "ok"
        checks.append(Check(f"{name}.ecc", status, f"{gpu.name}: {gpu.ecc_uncorrected} uncorrected ECC errors "
                                                   "since the driver loaded", node.name))
    return checks


def database_check(meta: MetaStore, node: str, limits: Thresholds = Thresholds()) -> Check:
    """The metadata DB answers `SELECT 1` (slow answers warn)."""
    from sqlalchemy import text

    where = meta.engine.url.render_as_string(hide_password=True)
    started = time.perf_counter()
    try:
        with meta.engine.connect() as connection:
            connection.execute(text("SELECT 1")).scalar_one()
    except Exception as exc:  # noqa: BLE001 - any failure to answer is the finding
        return Check("database", "fail", f"{where}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}", node)
    ms = (time.perf_counter() - started) * 1000
    status: Status = "warn" if ms > limits.db_slow_ms else "ok"
    return Check("database", status, f"{where}: SELECT 1 in {ms:.1f} ms", node)


def home_check(home: Path, node: str) -> Check:
    """MOFANG_HOME can be written (a temporary file is created and removed); a home not yet created passes
    when its nearest existing parent is writable."""
    target = Path(home)
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return Check("home", "fail", f"{target}: {existing} is not a directory", node)
    try:
        fd, probe = tempfile.mkstemp(prefix=".mofang-health-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return Check("home", "fail", f"{target} is not writable: {exc.strerror or exc}", node)
    note = "" if existing == target else f" (not created yet; {existing} is writable)"
    return Check("home", "ok", f"{target} writable{note}", node)
