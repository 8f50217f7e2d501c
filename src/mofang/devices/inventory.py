"""What this factory runs on: this machine (CPUs, cgroup limits, memory, MOFANG_HOME's disk, NVIDIA GPUs)
and, when Ray is in use, the Ray cluster's nodes."""

from __future__ import annotations

import logging
import math
import os
import socket
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from mofang.core.config import settings
from mofang.core.raycluster import RAY_ENV

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
GiB = 1024**3

# cgroup v1 writes "no limit" as a huge page-aligned number (e.g. 9223372036854771712), not "max".
_V1_UNLIMITED = 2**60


@dataclass(frozen=True)
class CgroupLimits:
    """The limits the kernel puts on this process's cgroup (None: unlimited or not visible)."""

    cpus: float | None = None           # cpu quota / period, in CPUs
    memory_limit: int | None = None     # bytes
    memory_used: int | None = None      # bytes charged to the cgroup now
    version: int | None = None          # 1 or 2; None when no cgroup file was readable


@dataclass(frozen=True)
class Disk:
    """The filesystem holding a path (MOFANG_HOME)."""

    path: str
    total: int  # bytes
    free: int   # bytes available to this (unprivileged) user


@dataclass(frozen=True)
class Gpu:
    """One GPU as NVML (or Ray, with less detail) reports it; a field NVML cannot read is None."""

    index: int
    name: str
    uuid: str | None = None
    memory_total: int | None = None      # bytes
    memory_used: int | None = None       # bytes
    utilization_pct: float | None = None
    temperature_c: float | None = None
    temperature_slowdown_c: float | None = None  # the driver's slowdown threshold
    ecc_uncorrected: int | None = None   # volatile (since the driver loaded) uncorrected ECC errors


@dataclass(frozen=True)
class Node:
    """One machine the factory can place work on.

    `kind` is "local" (this machine, measured here) or "ray" (a Ray node, from its declared resources:
    no disk, load or per-GPU detail). Memory figures are bytes.
    """

    name: str
    kind: Literal["local", "ray"]
    hostname: str
    cpus_logical: int
    cpus_physical: int | None = None
    cpus_allowed: int | None = None      # the CPUs this process may run on (affinity / cpuset)
    cpu_quota: float | None = None       # cgroup CPU quota in CPUs
    memory_total: int = 0
    memory_available: int | None = None
    memory_limit: int | None = None      # cgroup memory limit
    memory_cgroup_used: int | None = None
    load_avg: tuple[float, float, float] | None = None
    disks: list[Disk] = field(default_factory=list)
    gpus: list[Gpu] = field(default_factory=list)
    alive: bool = True
    address: str | None = None
    node_id: str | None = None

    @property
    def cpus(self) -> float:
        """CPUs work placed here may use: the smallest of logical CPUs, affinity and cgroup quota."""
        bounds = [float(b) for b in (self.cpus_logical, self.cpus_allowed, self.cpu_quota) if b]
        return min(bounds) if bounds else 0.0

    @property
    def memory_usable(self) -> int:
        """Memory work placed here may ever use: physical memory, capped by the cgroup limit."""
        return min(self.memory_total, self.memory_limit) if self.memory_limit else self.memory_total

    @property
    def memory_free(self) -> int:
        """Memory free now: available memory, capped by what the cgroup limit leaves."""
        free = self.memory_available if self.memory_available is not None else self.memory_usable
        if self.memory_limit is not None and self.memory_cgroup_used is not None:
            free = min(free, max(self.memory_limit - self.memory_cgroup_used, 0))
        return min(free, self.memory_usable)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the derived `cpus`, `memory_usable` and `memory_free`."""
        data = asdict(self)
        data["load_avg"] = list(self.load_avg) if self.load_avg else None
        data.update(cpus=self.cpus, memory_usable=self.memory_usable, memory_free=self.memory_free)
        return data


def inventory(*, ray: bool | None = None, home: Path | None = None) -> list[Node]:
    """This machine, then the Ray cluster's nodes when Ray is initialised or MOFANG_RAY_ADDRESS is set
    (`ray=False` skips Ray; `ray=True` asks even without either). An unreachable Ray cluster is logged
    and left out, never raised: the local node is always there."""
    nodes = [local_node(home)]
    if ray is None:
        ray = bool(os.environ.get(RAY_ENV)) or _ray_initialised()
    if ray:
        try:
            nodes.extend(ray_nodes())
        except Exception as exc:  # noqa: BLE001 - a broken cluster must not hide this machine
            log.warning("Ray cluster nodes unavailable: %s: %s", type(exc).__name__, exc)
    return nodes


def local_node(home: Path | None = None) -> Node:
    """This machine as the current process sees it."""
    import psutil


    limits = cgroup_limits()
    memory = psutil.virtual_memory()
    try:
        allowed: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        allowed = None
    try:
        one, five, fifteen = os.getloadavg()
        load: tuple[float, float, float] | None = (round(one, 2), round(five, 2), round(fifteen, 2))
    except (AttributeError, OSError):
        load = None
    hostname = socket.gethostname()
    return Node(name=hostname, kind="local", hostname=hostname,
                cpus_logical=psutil.cpu_count(logical=True) or os.cpu_count() or 1,
                cpus_physical=psutil.cpu_count(logical=False), cpus_allowed=allowed, cpu_quota=limits.cpus,
                memory_total=int(memory.total), memory_available=int(memory.available),
                memory_limit=limits.memory_limit, memory_cgroup_used=limits.memory_used, load_avg=load,
                disks=[disk_of(home or settings().home)], gpus=nvml_gpus())


def disk_of(path: Path) -> Disk:
    """Total and free space of the filesystem that holds (or will hold) `path`."""
    import psutil

    existing = Path(path).resolve()
    while not existing.exists() and existing != existing.parent:  # MOFANG_HOME may not exist yet
        existing = existing.parent
    usage = psutil.disk_usage(str(existing))
    return Disk(path=str(path), total=int(usage.total), free=int(usage.free))


# -- cgroups ------------------------------------------------------------------------------------------------


def cgroup_limits(root: Path = CGROUP_ROOT, self_cgroup: Path = SELF_CGROUP) -> CgroupLimits:
    """The CPU quota and memory limit of this process's cgroup (v2, else v1), the tightest along its path.

    `root` and `self_cgroup` exist so tests can point the reader at fixture files."""
    paths = _self_cgroup_paths(self_cgroup)
    if (root / "cgroup.controllers").exists() or (root / "cpu.max").exists() or (root / "memory.max").exists():
        dirs = _cgroup_dirs(root, paths.get("", "/"))
        memory, used = _tightest_memory((_int_file(d / "memory.max"), d / "memory.current") for d in dirs)
        return CgroupLimits(cpus=_tightest(_v2_cpu(d / "cpu.max") for d in dirs), memory_limit=memory,
                            memory_used=used, version=2)
    cpu_dirs = _cgroup_dirs(root / "cpu", paths.get("cpu", "/")) + _cgroup_dirs(root / "cpu,cpuacct",
                                                                                paths.get("cpu", "/"))
    mem_dirs = _cgroup_dirs(root / "memory", paths.get("memory", "/"))
    if not any(d.exists() for d in cpu_dirs + mem_dirs):
        return CgroupLimits()
    memory, used = _tightest_memory((_v1_memory(d / "memory.limit_in_bytes"), d / "memory.usage_in_bytes")
                                    for d in mem_dirs)
    return CgroupLimits(cpus=_tightest(_v1_cpu(d) for d in cpu_dirs), memory_limit=memory, memory_used=used,
                        version=1)


def _self_cgroup_paths(self_cgroup: Path) -> dict[str, str]:
    """controller -> this process's cgroup path, from /proc/self/cgroup ("" is the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    try:
        lines = self_cgroup.read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                paths[controller.removeprefix("name=")] = parts[2]
    return paths


def _cgroup_dirs(mount: Path, path: str) -> list[Path]:
    """The cgroup directory of `path` under `mount` and each ancestor up to the mount; inside a cgroup
    namespace the process's path is often not visible, and the mount itself is its cgroup."""
    dirs, current = [], mount / path.strip("/")
    while True:
        if current.exists():
            dirs.append(current)
        if current == mount or mount not in current.parents:
            break
        current = current.parent
    return dirs or [mount]


def _tightest(values: Iterable[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return min(found) if found else None


def _tightest_memory(limits: Iterable[tuple[int | None, Path]]) -> tuple[int | None, int | None]:
    """The smallest memory limit along the path and the usage charged to that same cgroup."""
    found = [(limit, usage) for limit, usage in limits if limit is not None]
    if not found:
        return None, None
    limit, usage = min(found, key=lambda pair: pair[0])
    return limit, _int_file(usage)


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _int_file(path: Path) -> int | None:
    text = _read(path)
    if text is None or text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _v2_cpu(path: Path) -> float | None:
    """cpu.max is "QUOTA PERIOD" or "max PERIOD"."""
    text = _read(path)
    if not text:
        return None
    quota, _, period = text.partition(" ")
    if quota == "max":
        return None
    try:
        return int(quota) / int(period or 100000)
    except (ValueError, ZeroDivisionError):
        return None


def _v1_cpu(directory: Path) -> float | None:
    quota, period = _int_file(directory / "cpu.cfs_quota_us"), _int_file(directory / "cpu.cfs_period_us")
    if quota is None or quota <= 0 or not period:
        return None
    return quota / period


def _v1_memory(path: Path) -> int | None:
    value = _int_file(path)
    return None if value is None or value >= _V1_UNLIMITED else value


# -- GPUs --------------------------------------------------------------------------------------------------


def nvml_gpus(nvml: ModuleType | None = None) -> list[Gpu]:
    """The NVIDIA GPUs NVML sees; [] when pynvml is missing, the driver is absent or NVML fails to start."""
    if nvml is None:
        try:
            import pynvml as nvml
        except ImportError:
            return []
    try:
        nvml.nvmlInit()
    except Exception:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...: no GPUs here
        return []
    try:
        return [_nvml_gpu(nvml, i) for i in range(nvml.nvmlDeviceGetCount())]
    except Exception as exc:  # noqa: BLE001 - a driver that fails mid-way reports no GPUs, never an error
        log.warning("NVML failed while listing GPUs: %s", exc)
        return []
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def _nvml_gpu(nvml: ModuleType, index: int) -> Gpu:
    handle = nvml.nvmlDeviceGetHandleByIndex(index)

    def ask(fn: str, *args: Any) -> Any:  # NotSupported (ECC on consumer cards, ...) reads as None
        try:
            return getattr(nvml, fn)(handle, *args)
        except Exception:  # noqa: BLE001
            return None

    name = ask("nvmlDeviceGetName")
    uuid = ask("nvmlDeviceGetUUID")
    memory = ask("nvmlDeviceGetMemoryInfo")
    rates = ask("nvmlDeviceGetUtilizationRates")
    temperature = ask("nvmlDeviceGetTemperature", nvml.NVML_TEMPERATURE_GPU)
    slowdown = ask("nvmlDeviceGetTemperatureThreshold", nvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN)
    ecc = ask("nvmlDeviceGetTotalEccErrors", nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, nvml.NVML_VOLATILE_ECC)
    return Gpu(index=index, name=_text(name) or "NVIDIA GPU", uuid=_text(uuid),
               memory_total=int(memory.total) if memory is not None else None,
               memory_used=int(memory.used) if memory is not None else None,
               utilization_pct=float(rates.gpu) if rates is not None else None,
               temperature_c=float(temperature) if temperature is not None else None,
               temperature_slowdown_c=float(slowdown) if slowdown is not None else None,
               ecc_uncorrected=int(ecc) if ecc is not None else None)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# -- Ray ---------------------------------------------------------------------------------------------------


def _ray_initialised() -> bool:
    import sys

    ray = sys.modules.get("ray")  # never import Ray (seconds) just to learn it is not in use
    return bool(ray is not None and ray.is_initialized())


def ray_nodes(address: str | None = None) -> list[Node]:
    """The Ray cluster's nodes; connects to `address` (default MOFANG_RAY_ADDRESS) when Ray is not yet
    initialised in this process. Raises when Ray is missing or the cluster is unreachable."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address or os.environ[RAY_ENV], ignore_reinit_error=True, log_to_driver=False,
                 logging_level=logging.WARNING)
    return nodes_from_ray(ray.nodes())


def nodes_from_ray(records: list[dict[str, Any]]) -> list[Node]:
    """Nodes from `ray.nodes()` records: their declared resources (CPU, memory, GPU) and liveness."""
    nodes = []
    for record in records:
        resources = record.get("Resources") or {}
        node_id = str(record.get("NodeID", ""))
        cpus = float(resources.get("CPU", 0))
        accelerator = next((k.split(":", 1)[1] for k in resources if k.startswith("accelerator_type:")), None)
        gpus = [Gpu(index=i, name=accelerator or "GPU") for i in range(int(resources.get("GPU", 0)))]
        nodes.append(Node(name=f"ray:{node_id[:8]}", kind="ray",
                          hostname=str(record.get("NodeManagerHostname") or record.get("NodeManagerAddress", "")),
                          cpus_logical=math.ceil(cpus), cpu_quota=cpus if cpus != int(cpus) else None,
                          memory_total=int(resources.get("memory", 0)),
                          gpus=gpus, alive=bool(record.get("Alive", False)),
                          address=record.get("NodeManagerAddress"), node_id=node_id))
    return nodes
