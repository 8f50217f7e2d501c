"""Capacity after reservations, best fit, and the reasons given when nothing fits."""

from __future__ import annotations

import pytest

from mofang.core.resources import Needs
from mofang.devices.capacity import Capacity, assess, fits
from mofang.devices.inventory import GiB, Gpu, Node


def node(name: str, cpus: int = 4, memory_gb: float = 16, gpus: int = 0, free_gb: float | None = None,
         alive: bool = True) -> Node:
    return Node(name=name, kind="local", hostname=name, cpus_logical=cpus, memory_total=int(memory_gb * GiB),
                memory_available=int((memory_gb if free_gb is None else free_gb) * GiB),
                gpus=[Gpu(index=i, name="H200") for i in range(gpus)], alive=alive)


def test_reservations_are_subtracted() -> None:
    capacity = Capacity.of([node("a", cpus=4, memory_gb=16)], [Needs(1, 2), Needs(0.5, 1)])
    free = capacity.node("a")
    assert (free.cpus, free.memory_gb, free.gpus, free.reserved) == (2.5, 13.0, 0, Needs(1.5, 3, 0))


def test_memory_taken_outside_the_factory_is_not_promised() -> None:
    capacity = Capacity.of([node("a", memory_gb=16, free_gb=5.2)], [Needs(1, 2)])
    assert capacity.node("a").memory_gb == pytest.approx(5.2)  # min(16 - 2, 5.2 available now)


def test_best_fit_keeps_gpu_nodes_and_large_holes_free() -> None:
    nodes = [node("big", cpus=32, memory_gb=128), node("small", cpus=4, memory_gb=16),
             node("gpu", cpus=32, memory_gb=128, gpus=2)]
    capacity = Capacity.of(nodes)
    assert fits(Needs(2, 4), capacity).name == "small"
    assert fits(Needs(8, 32), capacity).name == "big"
    assert fits(Needs(1, 1, gpu=1), capacity).name == "gpu"


def test_a_reserved_node_is_passed_over() -> None:
    capacity = Capacity.of([node("small", cpus=4), node("big", cpus=32, memory_gb=64)],
                           {"small": [Needs(3.5, 1)]})
    assert fits(Needs(1, 1), capacity).name == "big"


@pytest.mark.parametrize(("needs", "nodes", "reservations", "reason", "possible"), [
    (Needs(1, 1, gpu=1), [node("x")], (), "needs 1 GPU; this factory has none", False),
    (Needs(1, 8), [node("x", memory_gb=16, free_gb=5.2)], (), "needs 8 GB; at most 5.2 GB free on node x", True),
    (Needs(1, 64), [node("x", memory_gb=16)], (), "needs 64 GB; the largest node has 16.0 GB (node x)", False),
    (Needs(4, 1), [node("x", cpus=4)], [Needs(1, 1)], "needs 4 CPUs; at most 3 free on node x", True),
    (Needs(8, 1), [node("x", cpus=4)], (), "needs 8 CPUs; the largest node has 4 (node x)", False),
    (Needs(1, 1, gpu=2), [node("g", gpus=2)], [Needs(0, 0, gpu=1)],
     "needs 2 GPUs; at most 1 free on node g (1 reserved)", True),
    (Needs(1, 1, gpu=4), [node("g", gpus=2)], (), "needs 4 GPUs; the most on one node is 2 (node g)", False),
    (Needs(), [node("x", alive=False)], (), "needs 1 CPU, 0.5 GB; this factory has no live node", False),
])
def test_why_nothing_fits(needs: Needs, nodes: list[Node], reservations: list[Needs], reason: str,
                          possible: bool) -> None:
    fit = assess(needs, Capacity.of(nodes, reservations))
    assert (fit.node, fit.reason, fit.possible) == (None, reason, possible)


def test_the_binding_resource_is_named_on_the_gpu_node() -> None:
    # The GPU node lacks memory; the roomy node has no GPU: the reason speaks of the GPU node's memory.
    capacity = Capacity.of([node("roomy", memory_gb=256), node("gpu", memory_gb=16, gpus=1)])
    fit = assess(Needs(1, 32, gpu=1), capacity)
    assert fit.reason == "needs 32 GB; the largest node with 1 GPU has 16.0 GB (node gpu)" and not fit.possible


def test_needs_are_checked_and_reservations_must_name_their_node() -> None:
    with pytest.raises(ValueError, match="whole devices"):
        Needs(gpu=0.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        Needs(cpus=-1)
    with pytest.raises(ValueError, match="say which node"):
        Capacity.of([node("a"), node("b")], [Needs()])
    assert str(Needs(2, 4, 1)) == "2 CPUs, 4 GB, 1 GPU"
