"""What a job needs (the largest needs of its stations) and whether it fits what a node has free."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mofang.core.resources import Needs
from mofang.devices.capacity import Capacity
from mofang.devices.inventory import Node, local_node


def order_needs(order: Any, stations: Iterable[Any] | None = None) -> Needs:
    """What the order's job needs on its line (default: the standard line for the order's task)."""
    if stations is None:
        from mofang.line import stations_for

        stations = stations_for(order)
    return job_needs(stations, order)


def job_needs(stations: Iterable[Any], order: Any = None) -> Needs:
    """Stations run one after another, so a job needs the largest of each resource over its stations; with
    the order, each station says what it needs for that order (`Station.needs_for`)."""
    needs = [_needs_of(s, order) for s in stations]
    if not needs:
        return Needs()
    return Needs(cpus=max(n.cpus for n in needs), memory_gb=max(n.memory_gb for n in needs),
                 gpu=max(n.gpu for n in needs))


def _needs_of(station: Any, order: Any = None) -> Needs:
    if order is not None and hasattr(station, "needs_for"):
        declared = station.needs_for(order)
    else:
        declared = getattr(station, "resources", None)
    if declared is None:
        return Needs()
    if isinstance(declared, Needs):
        return declared
    if isinstance(declared, Mapping):
        return needs_from(declared, where=f"station {getattr(station, 'name', station)!r}")
    raise TypeError(f"station {getattr(station, 'name', station)!r}: resources must be a Needs, "
                    f"not {type(declared).__name__}")


def needs_from(data: Mapping[str, Any] | None, *, where: str = "needs") -> Needs:
    """Needs from a stored dict ({} means the defaults); unknown keys are an error naming the known ones."""
    data = dict(data or {})
    unknown = set(data) - {"cpus", "memory_gb", "gpu"}
    if unknown:
        raise ValueError(f"{where}: unknown resource {sorted(unknown)} (expected: cpus, memory_gb, gpu)")
    return Needs(**data)


def local_capacity(reserved: Sequence[Needs], node: Node | None = None) -> Capacity:
    """Free capacity of this machine after the needs of the jobs already placed on it."""
    node = node or local_node()
    return Capacity.of([node], {node.name: list(reserved)})
