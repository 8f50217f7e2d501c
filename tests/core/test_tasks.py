"""The task registry: built-in tasks come from the installed task packages, a task registered at run time joins
them, an unknown name is one clear error, and an override is found by its station and process."""

from __future__ import annotations

import pytest

from mofang.core.resources import Needs
from mofang.core.tasks import TaskSpec, UnknownTask, register, registered, spec, unregister

BUILT_IN = {"tabular-classification", "tabular-regression", "text-classification", "retrieval-qa",
            "time-series-forecast", "anomaly-detection", "instruction-tuning"}


def test_every_built_in_task_is_registered_by_its_package() -> None:
    assert BUILT_IN <= set(registered())
    assert spec("instruction-tuning").needs == Needs(cpus=2, memory_gb=6)
    assert spec("tabular-classification").classes and not spec("tabular-regression").classes
    assert spec("time-series-forecast").sections == ("forecast",)


def test_an_unknown_task_names_the_close_one() -> None:
    with pytest.raises(UnknownTask, match="did you mean 'text-classification'"):
        spec("text-clasification")


def test_overrides_resolve_lazily_by_module_and_function() -> None:
    train = spec("time-series-forecast").override("model.train")
    assert callable(train) and train.__module__ == "mofang.tasks.forecast.model"
    assert spec("tabular-classification").override("model.train") is None


def test_a_task_registered_at_run_time_joins_and_leaves() -> None:
    toy = TaskSpec(name="toy-registry-check", description="a check", metrics={"accuracy": "higher"},
                   overrides={"data.split": len})
    register(toy)
    try:
        assert spec("toy-registry-check") is toy and toy.override("data.split") is len
        with pytest.raises(ValueError, match="registered twice"):
            register(TaskSpec(name="toy-registry-check", description="another", metrics={}))
    finally:
        unregister("toy-registry-check")
    assert "toy-registry-check" not in registered()


@pytest.mark.parametrize(("fields", "message"), [
    ({"target": "sometimes"}, "target must be"),
    ({"text": "columns"}, "text must be"),
    ({"default_metric": "rmse"}, "not one of its metrics"),
    ({"overrides": {"train": len}}, "<station>.<process>"),
])
def test_a_malformed_spec_is_refused(fields, message) -> None:
    with pytest.raises(ValueError, match=message):
        TaskSpec(name="bad", description="bad", metrics={"accuracy": "higher"}, **fields)
