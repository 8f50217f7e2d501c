"""The inventory: this machine as measured, cgroup limits from fixture files, NVML absent/failing/faked, Ray
records."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from mofang.devices.inventory import GiB, cgroup_limits, inventory, local_node, nodes_from_ray, nvml_gpus

inv = importlib.import_module("mofang.devices.inventory")  # the package attribute `inventory` is the function


def test_this_machine_is_plausible(home: Path) -> None:
    (node,) = inventory(ray=False)
    assert node.kind == "local" and node.alive and node.hostname
    assert node.cpus_logical >= 1 and 0 < node.cpus <= node.cpus_logical
    assert node.memory_total > 0 and 0 < node.memory_free <= node.memory_usable <= node.memory_total
    (disk,) = node.disks
    assert disk.path == str(home) and 0 < disk.free <= disk.total  # home not created yet: its parent's disk
    data = node.to_dict()
    assert data["cpus"] == node.cpus and data["disks"][0]["free"] == disk.free


def driver_gpus() -> int:
    """NVIDIA GPUs the kernel driver shows on this machine, read without NVML (a folder each)."""
    folder = Path("/proc/driver/nvidia/gpus")
    return len(list(folder.iterdir())) if folder.is_dir() else 0


@pytest.mark.skipif(driver_gpus() > 0, reason="this machine has NVIDIA GPUs (see the test after this one)")
def test_no_gpu_here_is_an_empty_list() -> None:
    assert nvml_gpus() == []  # no driver (CI, a laptop): no GPUs, and no error


@pytest.mark.skipif(driver_gpus() == 0, reason="no NVIDIA GPU on this machine")
def test_a_gpu_machine_lists_each_gpu_its_driver_shows() -> None:
    gpus = nvml_gpus()
    assert len(gpus) == driver_gpus() and [gpu.index for gpu in gpus] == list(range(len(gpus)))
    assert all(gpu.name and gpu.memory_total and gpu.memory_total > GiB for gpu in gpus)


def test_nvml_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    assert nvml_gpus() == []


class FakeNvml(SimpleNamespace):
    """Enough of pynvml for two GPUs; the second does not support ECC or utilisation."""

    NVML_TEMPERATURE_GPU, NVML_TEMPERATURE_THRESHOLD_SLOWDOWN = 0, 1
    NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC = 1, 0

    def __init__(self, init_error: Exception | None = None) -> None:
        super().__init__(shutdowns=0, init_error=init_error)

    def nvmlInit(self) -> None:
        if self.init_error:
            raise self.init_error

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        return i

    def nvmlDeviceGetName(self, h: int) -> bytes | str:
        return b"NVIDIA H200" if h == 0 else "NVIDIA L4"

    def nvmlDeviceGetUUID(self, h: int) -> str:
        return f"GPU-{h}"

    def nvmlDeviceGetMemoryInfo(self, h: int) -> SimpleNamespace:
        return SimpleNamespace(total=(141 if h == 0 else 24) * GiB, used=GiB)

    def nvmlDeviceGetUtilizationRates(self, h: int) -> SimpleNamespace:
        if h == 1:
            raise RuntimeError("NVMLError_NotSupported")
        return SimpleNamespace(gpu=37, memory=5)

    def nvmlDeviceGetTemperature(self, h: int, sensor: int) -> int:
        return 41 + h

    def nvmlDeviceGetTemperatureThreshold(self, h: int, kind: int) -> int:
        return 90

    def nvmlDeviceGetTotalEccErrors(self, h: int, kind: int, counter: int) -> int:
        if h == 1:
            raise RuntimeError("NVMLError_NotSupported")
        return 0


def test_nvml_reports_each_gpu_and_skips_unsupported_readings() -> None:
    nvml = FakeNvml()
    first, second = nvml_gpus(nvml)  # type: ignore[arg-type]
    assert (first.name, first.uuid, first.memory_total, first.utilization_pct) == ("NVIDIA H200", "GPU-0",
                                                                                   141 * GiB, 37.0)
    assert (first.temperature_c, first.temperature_slowdown_c, first.ecc_uncorrected) == (41.0, 90.0, 0)
    assert second.name == "NVIDIA L4" and second.utilization_pct is None and second.ecc_uncorrected is None
    assert nvml.shutdowns == 1


def test_nvml_without_driver_is_no_gpus() -> None:
    assert nvml_gpus(FakeNvml(init_error=RuntimeError("Driver Not Loaded"))) == []  # type: ignore[arg-type]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text + "\n")


def test_cgroup_v2_quota_and_memory_limit(tmp_path: Path) -> None:
    _write(tmp_path, {"cgroup.controllers": "cpu memory", "cpu.max": "150000 100000",
                      "memory.max": str(4 * GiB), "memory.current": str(GiB)})
    limits = cgroup_limits(tmp_path, tmp_path / "no-proc-file")
    assert (limits.version, limits.cpus, limits.memory_limit, limits.memory_used) == (2, 1.5, 4 * GiB, GiB)


def test_cgroup_v2_unlimited(tmp_path: Path) -> None:
    _write(tmp_path, {"cgroup.controllers": "cpu memory", "cpu.max": "max 100000", "memory.max": "max"})
    assert cgroup_limits(tmp_path, tmp_path / "none") == inv.CgroupLimits(version=2)


def test_cgroup_v2_nested_path_takes_the_tightest(tmp_path: Path) -> None:
    _write(tmp_path, {"proc": "0::/jobs/a", "cgroup.controllers": "cpu memory",
                      "jobs/cpu.max": "400000 100000", "jobs/memory.max": str(2 * GiB), "jobs/memory.current": "7",
                      "jobs/a/cpu.max": "200000 100000", "jobs/a/memory.max": "max", "jobs/a/memory.current": "5"})
    limits = cgroup_limits(tmp_path, tmp_path / "proc")
    assert (limits.cpus, limits.memory_limit, limits.memory_used) == (2.0, 2 * GiB, 7)  # usage of the limiting one


def test_cgroup_v1(tmp_path: Path) -> None:
    _write(tmp_path, {"proc": "4:memory:/box\n1:cpu,cpuacct:/\n0::/",
                      "cpu/cpu.cfs_quota_us": "50000", "cpu/cpu.cfs_period_us": "100000",
                      "memory/memory.limit_in_bytes": "9223372036854771712",
                      "memory/box/memory.limit_in_bytes": str(3 * GiB), "memory/box/memory.usage_in_bytes": "123"})
    limits = cgroup_limits(tmp_path, tmp_path / "proc")
    assert (limits.version, limits.cpus, limits.memory_limit, limits.memory_used) == (1, 0.5, 3 * GiB, 123)


def test_cgroup_v1_unlimited_and_no_cgroup_at_all(tmp_path: Path) -> None:
    _write(tmp_path, {"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000",
                      "memory/memory.limit_in_bytes": "9223372036854771712"})
    assert cgroup_limits(tmp_path, tmp_path / "none") == inv.CgroupLimits(version=1)
    assert cgroup_limits(tmp_path / "missing", tmp_path / "none") == inv.CgroupLimits()


def test_cgroup_limits_cap_the_local_node(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inv, "cgroup_limits", lambda: inv.CgroupLimits(cpus=0.5, memory_limit=GiB,
                                                                       memory_used=GiB // 4, version=2))
    node = local_node()
    assert node.cpus == 0.5 and node.memory_usable == GiB
    assert node.memory_free <= GiB * 3 // 4


RAY_NODES = [
    {"NodeID": "a1b2c3d4e5f6", "Alive": True, "NodeManagerAddress": "10.0.0.5", "NodeManagerHostname": "gpu-1",
     "Resources": {"CPU": 16.0, "memory": 64 * GiB, "GPU": 2.0, "accelerator_type:H200": 1.0,
                   "node:10.0.0.5": 1.0}},
    {"NodeID": "ffff00001111", "Alive": False, "NodeManagerAddress": "10.0.0.6", "NodeManagerHostname": "cpu-1",
     "Resources": {"CPU": 8.0, "memory": 16 * GiB}},
]


def test_ray_records_become_nodes() -> None:
    gpu, dead = nodes_from_ray(RAY_NODES)
    assert (gpu.name, gpu.kind, gpu.hostname, gpu.cpus, gpu.memory_usable) == ("ray:a1b2c3d4", "ray", "gpu-1",
                                                                                16.0, 64 * GiB)
    assert [g.name for g in gpu.gpus] == ["H200", "H200"] and gpu.alive
    assert not dead.alive and dead.gpus == []


def test_unreachable_ray_leaves_the_local_node(home: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    def refuse() -> list:
        raise ConnectionError("no cluster at 10.9.9.9:6379")

    monkeypatch.setenv("MOFANG_RAY_ADDRESS", "10.9.9.9:6379")
    monkeypatch.setattr(inv, "ray_nodes", refuse)
    with caplog.at_level(logging.WARNING):
        nodes = inventory()
    assert [n.kind for n in nodes] == ["local"] and "no cluster" in caplog.text


def test_ray_nodes_join_the_inventory(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inv, "ray_nodes", lambda: nodes_from_ray(RAY_NODES))
    assert [n.kind for n in inventory(ray=True)] == ["local", "ray", "ray"]
