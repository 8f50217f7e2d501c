"""What a job needs: the largest needs of its stations; placement against a node's free capacity."""

from __future__ import annotations

import pytest

from mofang.core.resources import Needs
from mofang.line.runner import stations_for
from mofang.orders import Order
from mofang.scheduling.placement import job_needs, local_capacity, needs_from
from mofang.station import Station


class Light(Station):
    name = "light"
    processes = ("work",)

    def work(self, ctx: object) -> str:
        return ""


class Heavy(Light):
    name = "heavy"
    resources = Needs(cpus=4, memory_gb=2)


class Gpu(Light):
    name = "gpu"
    resources = Needs(cpus=1, memory_gb=8, gpu=1)


def test_a_job_needs_the_most_of_each_resource_over_its_stations() -> None:
    assert Light.resources == Needs()  # the default every station has
    assert job_needs([Light(), Heavy(), Gpu()]) == Needs(cpus=4, memory_gb=8, gpu=1)
    order = Order.model_validate({"id": "o", "tenant": "t", "task": "tabular-regression", "target": "y",
                                  "data": [{"path": "/dev/null"}]})
    assert job_needs(stations_for(order)).cpus >= 1


def test_stored_needs_are_checked() -> None:
    assert needs_from({}) == Needs() and needs_from({"cpus": 2}) == Needs(cpus=2)
    with pytest.raises(ValueError, match="unknown resource.*expected: cpus, memory_gb, gpu"):
        needs_from({"cpu": 2}, where="job 3")


def test_free_capacity_subtracts_what_is_placed() -> None:
    node = local_capacity([]).nodes[0]
    assert node.holds(Needs(cpus=min(1, node.cpus), memory_gb=0.1))
    full = local_capacity([Needs(cpus=node.total_cpus, memory_gb=0)]).nodes[0]
    assert not full.holds(Needs(cpus=1, memory_gb=0.1))
