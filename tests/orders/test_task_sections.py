"""A task declares its own order section (TaskSpec.section_models): the order schema takes it without knowing it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel, ConfigDict, Field

from mofang.core.errors import OrderError
from mofang.core.tasks import TaskSpec, register, unregister
from mofang.orders import parse_order


class Gauge(BaseModel):
    model_config = ConfigDict(extra="forbid")

    needle: str = "red"
    ticks: int = Field(10, ge=1)


GAUGE = TaskSpec(name="gauge-reading", description="a toy task with a section of its own",
                 metrics={"accuracy": "higher"}, classes=True, sections=("gauge",), section_models={"gauge": Gauge})


@pytest.fixture()
def gauge_task() -> Iterator[TaskSpec]:
    register(GAUGE)
    yield GAUGE
    unregister(GAUGE.name)


def order_text(task: str = "gauge-reading", section: str = "gauge:\n  ticks: 12\n") -> str:
    return (f"id: dial\ntenant: plant\ntask: {task}\ntarget: label\ndata:\n  - path: dials.csv\n"
            f"acceptance: none\n{section}")


def test_a_tasks_own_section_is_validated_by_its_model(gauge_task: TaskSpec) -> None:
    order = parse_order(order_text())
    assert isinstance(order.section("gauge"), Gauge)
    assert order.section("gauge").ticks == 12 and order.section("gauge").needle == "red"
    assert order.section("forecast") is None  # a section the schema declares, absent here


def test_the_section_survives_a_round_trip_through_json(gauge_task: TaskSpec) -> None:
    order = parse_order(order_text())
    again = type(order).model_validate(order.model_dump(mode="json"))
    assert again.section("gauge") == order.section("gauge")


def test_a_wrong_value_names_the_field_inside_the_section(gauge_task: TaskSpec) -> None:
    with pytest.raises(OrderError, match=r"gauge\.ticks"):
        parse_order(order_text(section="gauge:\n  ticks: 0\n"))
    with pytest.raises(OrderError, match=r"gauge\.dial"):
        parse_order(order_text(section="gauge:\n  dial: 3\n"))


def test_a_section_belongs_to_the_task_that_declares_it(gauge_task: TaskSpec) -> None:
    with pytest.raises(OrderError, match="'gauge' applies to gauge-reading orders only"):
        parse_order(order_text(task="tabular-classification"))


def test_without_the_task_the_section_is_an_unknown_field() -> None:
    with pytest.raises(OrderError, match="gauge"):
        parse_order(order_text(task="tabular-classification"))
