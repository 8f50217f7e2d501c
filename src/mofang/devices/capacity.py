"""Free capacity per node after running jobs' reservations, and where a station's needs fit best.

GB here means GiB (2**30 bytes), as memory is sold and as Kubernetes' "Gi" counts it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mofang.core.resources import Needs, count, cpus_text, number_text
from mofang.devices.inventory import GiB, Node

_EPS = 1e-9  # float CPUs/GB: 0.1 + 0.2 must still fit in 0.3


NOTHING = Needs(0, 0, 0)


@dataclass(frozen=True)
class NodeCapacity:
    """One live node: what it has in all (`total_*`), what is reserved, and what is free for a new job."""

    node: Node
    cpus: float          # free
    memory_gb: float     # free
    gpus: int            # free
    total_cpus: float
    total_memory_gb: float
    total_gpus: int
    reserved: Needs = NOTHING

    def holds(self, needs: Needs) -> bool:
        """Whether `needs` fits in what is free now."""
        return (needs.cpus <= self.cpus + _EPS and needs.memory_gb <= self.memory_gb + _EPS
                and needs.gpu <= self.gpus)

    def could_hold(self, needs: Needs) -> bool:
        """Whether `needs` would fit on this node with nothing else running."""
        return (needs.cpus <= self.total_cpus + _EPS and needs.memory_gb <= self.total_memory_gb + _EPS
                and needs.gpu <= self.total_gpus)

    def to_dict(self) -> dict[str, object]:
        return {"node": self.node.name, "kind": self.node.kind,
                "free": {"cpus": self.cpus, "memory_gb": round(self.memory_gb, 3), "gpu": self.gpus},
                "total": {"cpus": self.total_cpus, "memory_gb": round(self.total_memory_gb, 3),
                          "gpu": self.total_gpus},
                "reserved": self.reserved.to_dict()}


Reservations = Sequence[Needs] | Mapping[str, Sequence[Needs]]


@dataclass(frozen=True)
class Capacity:
    """Free capacity of every live node. Build it with `Capacity.of(nodes, reservations)`."""

    nodes: tuple[NodeCapacity, ...]

    @classmethod
    def of(cls, nodes: Sequence[Node] | None = None, reservations: Reservations = ()) -> Capacity:
        """Capacity of `nodes` (default: `inventory()`) less `reservations`, the needs of running jobs.

        Reservations are a list of Needs when there is one node, or {node name: [Needs, ...]} to say
        which node holds each (a plain list over several nodes is ambiguous and raises ValueError).
        Free CPUs and GPUs are the node's less the reserved; free memory is the smaller of (usable memory
        less the reserved) and the memory available right now, so memory taken by processes outside the
        factory is not promised to a job either. Dead nodes are left out.
        """
        if nodes is None:
            from mofang.devices.inventory import inventory

            nodes = inventory()
        live = [n for n in nodes if n.alive]
        per_node = _by_node(live, reservations)
        return cls(tuple(_node_capacity(n, per_node.get(n.name, NOTHING)) for n in live))

    def node(self, name: str) -> NodeCapacity:
        for entry in self.nodes:
            if entry.node.name == name:
                return entry
        raise KeyError(f"no live node '{name}' (known: {', '.join(e.node.name for e in self.nodes) or 'none'})")

    def to_dict(self) -> dict[str, object]:
        return {"nodes": [n.to_dict() for n in self.nodes]}


def _by_node(nodes: Sequence[Node], reservations: Reservations) -> dict[str, Needs]:
    names = {n.name for n in nodes}
    if isinstance(reservations, Mapping):  # a job on a node that died or left takes nothing from the others
        return {name: sum(needs, NOTHING) for name, needs in reservations.items() if name in names}
    reservations = list(reservations)
    if not reservations:
        return {}
    if len(nodes) != 1:
        raise ValueError(f"{len(reservations)} reservations over {len(nodes)} nodes: say which node holds each, "
                         "as {node name: [Needs, ...]}")
    return {nodes[0].name: sum(reservations, NOTHING)}


def _node_capacity(node: Node, reserved: Needs) -> NodeCapacity:
    total_memory = node.memory_usable / GiB
    free_memory = min(total_memory - reserved.memory_gb, node.memory_free / GiB)
    return NodeCapacity(node=node, cpus=max(node.cpus - reserved.cpus, 0.0), memory_gb=max(free_memory, 0.0),
                        gpus=max(len(node.gpus) - reserved.gpu, 0), total_cpus=node.cpus,
                        total_memory_gb=total_memory, total_gpus=len(node.gpus), reserved=reserved)


@dataclass(frozen=True)
class Fit:
    """Where `needs` goes (`node`), or why nowhere (`reason`); `possible` says whether it would fit on an
    idle factory — False means waiting will not help (reject, do not queue)."""

    node: Node | None
    reason: str
    possible: bool


def assess(needs: Needs, capacity: Capacity) -> Fit:
    """The best-fit node for `needs`, or the binding reason nothing fits.

    Best fit: a job without GPUs goes to a node without GPUs when it can (GPU nodes stay free for GPU
    work); then the fewest GPUs left idle, then the least CPU and memory left over (as shares of the
    node), so large holes stay open for large jobs; ties go to the node name.
    """
    candidates = [c for c in capacity.nodes if c.holds(needs)]
    if candidates:
        best = min(candidates, key=lambda c: (needs.gpu == 0 and c.total_gpus > 0, c.gpus - needs.gpu,
                                              _share(c.cpus - needs.cpus, c.total_cpus)
                                              + _share(c.memory_gb - needs.memory_gb, c.total_memory_gb),
                                              c.node.name))
        return Fit(best.node, f"{needs} fit on node {best.node.name} ({_free(best)} free)", True)
    possible = any(c.could_hold(needs) for c in capacity.nodes)
    return Fit(None, _why_not(needs, capacity, possible), possible)


def fits(needs: Needs, capacity: Capacity) -> Node | None:
    """The best-fit node for `needs`, or None (`assess` says why)."""
    return assess(needs, capacity).node


def _why_not(needs: Needs, capacity: Capacity, possible: bool) -> str:
    """The first resource that rules out every node, in the order GPUs, memory, CPUs, worded for a person:
    "needs 1 GPU; this factory has none", "needs 8 GB; at most 5.2 GB free on node x". When the job could
    never fit (`possible` False) the nodes are judged by their totals, so the reason says waiting is futile."""
    nodes = list(capacity.nodes)
    if not nodes:
        return f"needs {needs}; this factory has no live node"
    idle = not possible

    def gpus(c: NodeCapacity) -> float:
        return c.total_gpus if idle else c.gpus

    def memory(c: NodeCapacity) -> float:
        return c.total_memory_gb if idle else c.memory_gb

    def cpus(c: NodeCapacity) -> float:
        return c.total_cpus if idle else c.cpus

    if needs.gpu:
        most = max(nodes, key=lambda c: (gpus(c), c.node.name))
        if gpus(most) < needs.gpu:
            if not any(c.total_gpus for c in nodes):
                return f"needs {count(needs.gpu, 'GPU')}; this factory has none"
            if idle:
                return f"needs {count(needs.gpu, 'GPU')}; the most on one node is {most.total_gpus} " \
                       f"(node {most.node.name})"
            return f"needs {count(needs.gpu, 'GPU')}; at most {most.gpus} free on node {most.node.name} " \
                   f"({most.reserved.gpu} reserved)"
        nodes = [c for c in nodes if gpus(c) >= needs.gpu]
    largest = f"the largest node with {count(needs.gpu, 'GPU')}" if needs.gpu else "the largest node"
    most = max(nodes, key=lambda c: (memory(c), c.node.name))
    if memory(most) + _EPS < needs.memory_gb:
        if idle:
            return f"needs {number_text(needs.memory_gb)} GB; {largest} has {most.total_memory_gb:.1f} GB " \
                   f"(node {most.node.name})"
        return f"needs {number_text(needs.memory_gb)} GB; at most {most.memory_gb:.1f} GB free on node {most.node.name}"
    nodes = [c for c in nodes if memory(c) + _EPS >= needs.memory_gb]
    most = max(nodes, key=lambda c: (cpus(c), c.node.name))
    if idle:
        return f"needs {cpus_text(needs.cpus)}; {largest} has {number_text(most.total_cpus)} (node {most.node.name})"
    return f"needs {cpus_text(needs.cpus)}; at most {number_text(most.cpus)} free on node {most.node.name}"


def _free(c: NodeCapacity) -> str:
    gpus = f", {count(c.gpus, 'GPU')}" if c.total_gpus else ""
    return f"{cpus_text(c.cpus)}, {c.memory_gb:.1f} GB{gpus}"


def _share(left: float, total: float) -> float:
    return left / total if total > 0 else 0.0
