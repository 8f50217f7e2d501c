"""The device gauges: registered once per registry, read fresh at each scrape."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
from prometheus_client import CollectorRegistry, generate_latest

from mofang.devices.inventory import Disk, GiB, Gpu, Node, inventory, nvml_gpus
from mofang.devices.metrics import register_device_metrics

NODES = [Node(name="n1", kind="local", hostname="n1", cpus_logical=8, cpu_quota=2.0, memory_total=16 * GiB,
              memory_available=4 * GiB, load_avg=(1.0, 0.5, 0.2), disks=[Disk("/srv", 100 * GiB, 40 * GiB)],
              gpus=[Gpu(0, "H200", memory_total=141 * GiB, memory_used=GiB, utilization_pct=25, temperature_c=40)])]


def test_gauges_of_the_inventory() -> None:
    registry = CollectorRegistry()
    calls: list[int] = []

    def nodes() -> list[Node]:
        calls.append(1)
        return NODES

    collector = register_device_metrics(registry, nodes)
    assert register_device_metrics(registry, nodes) is collector and calls == []  # no inventory to register
    assert "mofang_gpu_memory_used_bytes" in generate_latest(registry).decode()
    assert calls == [1]  # one inventory per scrape
    node, gpu = {"node": "n1", "kind": "local"}, {"node": "n1", "gpu": "0", "name": "H200"}
    assert registry.get_sample_value("mofang_node_cpus", node) == 2.0  # the quota, not the 8 logical CPUs
    assert registry.get_sample_value("mofang_node_memory_free_bytes", node) == 4 * GiB
    assert registry.get_sample_value("mofang_node_disk_free_bytes", {**node, "path": "/srv"}) == 40 * GiB
    assert registry.get_sample_value("mofang_gpu_utilization_ratio", gpu) == 0.25
    assert registry.get_sample_value("mofang_gpu_temperature_celsius", gpu) == 40.0


def test_this_machine_scrapes(home: Path) -> None:
    registry = CollectorRegistry()
    register_device_metrics(registry, lambda: inventory(ray=False, home=home))
    labels = {"node": socket.gethostname(), "kind": "local"}
    gpus = nvml_gpus()  # this machine's GPUs as NVML sees them ([] without a driver)
    assert registry.get_sample_value("mofang_node_up", labels) == 1.0
    assert registry.get_sample_value("mofang_node_cpus_logical", labels) == psutil.cpu_count(logical=True)
    assert 0 < registry.get_sample_value("mofang_node_cpus", labels) <= psutil.cpu_count(logical=True)
    assert registry.get_sample_value("mofang_node_gpus", labels) == len(gpus)
    for gpu in gpus:
        gauge = {"node": labels["node"], "gpu": str(gpu.index), "name": gpu.name}
        assert registry.get_sample_value("mofang_gpu_memory_total_bytes", gauge) == gpu.memory_total
    assert registry.get_sample_value("mofang_node_memory_total_bytes", labels) > 0
    assert registry.get_sample_value("mofang_node_disk_free_bytes", {**labels, "path": str(home)}) > 0
