"""Prometheus gauges of the device inventory (CPU, memory, disk, GPU memory/utilisation/temperature), read
fresh at every scrape by a collector that any /metrics endpoint can register."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Sequence

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, CollectorRegistry

from mofang.devices.inventory import Node, inventory

_NODE = ["node", "kind"]
_GPU = ["node", "gpu", "name"]

#: name -> (help, labels); one definition used by describe() and collect().
GAUGES: dict[str, tuple[str, list[str]]] = {
    "mofang_node_up": ("1 when the node is alive (Ray's view for Ray nodes)", _NODE),
    "mofang_node_cpus": ("CPUs work may use on the node (logical CPUs capped by affinity and cgroup quota)", _NODE),
    "mofang_node_cpus_logical": ("Logical CPUs of the node", _NODE),
    "mofang_node_load1": ("1-minute load average", _NODE),
    "mofang_node_memory_total_bytes": ("Usable memory: physical, capped by the cgroup limit", _NODE),
    "mofang_node_memory_free_bytes": ("Memory free now (available, capped by the cgroup limit)", _NODE),
    "mofang_node_disk_total_bytes": ("Size of the filesystem holding MOFANG_HOME", [*_NODE, "path"]),
    "mofang_node_disk_free_bytes": ("Free space on the filesystem holding MOFANG_HOME", [*_NODE, "path"]),
    "mofang_node_gpus": ("GPUs on the node", _NODE),
    "mofang_gpu_memory_total_bytes": ("GPU memory", _GPU),
    "mofang_gpu_memory_used_bytes": ("GPU memory in use", _GPU),
    "mofang_gpu_utilization_ratio": ("Share of time a kernel ran on the GPU over the last sample period", _GPU),
    "mofang_gpu_temperature_celsius": ("GPU core temperature", _GPU),
}


class DeviceCollector:
    """A prometheus_client collector: each scrape takes a fresh inventory (`nodes()`) into gauges."""

    def __init__(self, nodes: Callable[[], Sequence[Node]] = inventory) -> None:
        self._nodes = nodes

    def describe(self) -> Iterator[Metric]:
        """The gauges without values, so registering does not take an inventory."""
        for name, (text, labels) in GAUGES.items():
            yield GaugeMetricFamily(name, text, labels=labels)

    def collect(self) -> Iterator[Metric]:
        families = {name: GaugeMetricFamily(name, text, labels=labels) for name, (text, labels) in GAUGES.items()}

        def put(name: str, labels: list[str], value: float | None) -> None:
            if value is not None:
                families[name].add_metric(labels, float(value))

        for node in self._nodes():
            key = [node.name, node.kind]
            put("mofang_node_up", key, 1 if node.alive else 0)
            put("mofang_node_cpus", key, node.cpus)
            put("mofang_node_cpus_logical", key, node.cpus_logical)
            put("mofang_node_load1", key, node.load_avg[0] if node.load_avg else None)
            put("mofang_node_memory_total_bytes", key, node.memory_usable)
            put("mofang_node_memory_free_bytes", key, node.memory_free if node.memory_available is not None else None)
            for disk in node.disks:
                put("mofang_node_disk_total_bytes", [*key, disk.path], disk.total)
                put("mofang_node_disk_free_bytes", [*key, disk.path], disk.free)
            put("mofang_node_gpus", key, len(node.gpus))
            for gpu in node.gpus:
                labels = [node.name, str(gpu.index), gpu.name]
                put("mofang_gpu_memory_total_bytes", labels, gpu.memory_total)
                put("mofang_gpu_memory_used_bytes", labels, gpu.memory_used)
                put("mofang_gpu_utilization_ratio", labels,
                    gpu.utilization_pct / 100 if gpu.utilization_pct is not None else None)
                put("mofang_gpu_temperature_celsius", labels, gpu.temperature_c)
        yield from families.values()


_registered: weakref.WeakKeyDictionary[CollectorRegistry, DeviceCollector] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def register_device_metrics(registry: CollectorRegistry = REGISTRY,
                            nodes: Callable[[], Sequence[Node]] = inventory) -> DeviceCollector:
    """Register the device gauges with `registry` (default: prometheus_client's global one) once; a second
    call with the same registry returns the collector already there, so the scheduler and the REST API may
    both call it."""
    with _lock:
        if registry not in _registered:
            collector = DeviceCollector(nodes)
            registry.register(collector)
            _registered[registry] = collector
        return _registered[registry]
