"""The task registry: what the line needs from each kind of order, declared in one object per task.

A task package (`mofang.tasks.<name>`, or any installed package) declares its `TaskSpec`s under the `mofang.tasks`
entry point group, or calls `register` (a test registering a toy task). Unit code asks the registry — `spec(name)`,
`spec.override("data.split")`, `spec.metrics` — and never compares task names.

A station process (`"<station>.<process>"`, e.g. `"model.train"`) runs the task's override when the task has one,
else the station's own method: the units hold the machinery every task shares, a task only what differs.
"""

from __future__ import annotations

import difflib
import importlib
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from mofang.core.resources import Needs

GROUP = "mofang.tasks"
BASE_MODELS = ("checkpoint", "market")  # what an order's `base_model` may name (TaskSpec.base_model)


@dataclass(frozen=True)
class TaskSpec:
    """One task: its name, metrics, what its order may say, what it needs, and where it differs from the line's
    shared processes (`overrides`) or adds to them (`hooks`)."""

    name: str
    description: str
    metrics: Mapping[str, str]  # metric → "higher" | "lower" (acceptance criteria may name these)
    default_metric: str | None = None  # what the model workshop optimises when the order names no criterion
    target: str = "required"  # "required" | "optional": a label column, or a Q&A table's answer column
    # what the order's `text:` names: "features" (the text columns the model reads), "prompt" (a Q&A table's prompt
    # columns) or nothing (the order may not say `text:`)
    text: str | None = None
    labels_file: bool = False  # the order may bring labels in a separate file (active learning)
    multi_label: bool = False  # the order may ask for several labels per row
    # what the order's `base_model` may name: "checkpoint" (a model-catalog name or local checkpoint folder the
    # task's families start from), "market" (a published model, `market:NAME@V`, competing as a candidate);
    # empty: the order may not say `base_model`
    base_model: tuple[str, ...] = ()
    robustness: bool = False  # the task measures a robustness drop (`acceptance.max_robustness_drop`)
    classes: bool = False  # the target has classes (stratified splits, class lists, thresholds)
    sections: tuple[str, ...] = ()  # the order sections only this task reads (`forecast:`, `llm:`, `anomaly:`)
    # a section the order schema does not declare itself → its pydantic model ("module:Class"); the order keeps it
    # validated under `Order.sections` (read it with `order.section(name)`)
    section_models: Mapping[str, type | str] = field(default_factory=dict)
    label_target: bool = True  # False: the target is served text (an answer, a response), never a label
    refit: bool = False  # the winner may be refitted on every row (`deployment.refit_on_all_rows`)
    blend: bool = False  # the best candidates may be blended into a soft-voting ensemble
    needs: Needs | None = None  # the model workshop's needs where they differ from the station's own
    recipe: str | None = None  # the default data recipe: a built-in name or a YAML path (None: the task's name)
    # the portal's order wizard offers the task at this place (lower first; None: its orders are placed as YAML,
    # by the CLI or the REST API), with this acceptance criterion filled in (metric, condition)
    wizard: int | None = None
    wizard_criterion: tuple[str, str] | None = None
    # candidate family → its Trainer ("module:Class", imported when first trained), for the shared model workshop
    families: Mapping[str, type | str] = field(default_factory=dict)
    # "<station>.<process>" → the task's implementation (a callable, or "module:function" imported when first used)
    overrides: Mapping[str, Callable[..., Any] | str] = field(default_factory=dict)
    hooks: Mapping[str, Callable[..., Any] | str] = field(default_factory=dict)  # named points inside a process

    def __post_init__(self) -> None:
        if self.text not in (None, "features", "prompt"):
            raise ValueError(f"task {self.name!r}: text must be None, 'features' or 'prompt', not {self.text!r}")
        if not set(self.base_model) <= set(BASE_MODELS):
            raise ValueError(f"task {self.name!r}: base_model may name {' and '.join(BASE_MODELS)}, not "
                             f"{self.base_model!r}")
        if self.target not in ("required", "optional"):
            raise ValueError(f"task {self.name!r}: target must be 'required' or 'optional', not {self.target!r}")
        if self.default_metric is not None and self.default_metric not in self.metrics:
            raise ValueError(f"task {self.name!r}: default metric {self.default_metric!r} is not one of its metrics")
        if self.wizard_criterion is not None and self.wizard_criterion[0] not in self.metrics:
            raise ValueError(f"task {self.name!r}: wizard criterion {self.wizard_criterion[0]!r} is not one of its "
                             "metrics")
        for key in self.section_models:
            if key not in self.sections:
                raise ValueError(f"task {self.name!r}: section model {key!r} is not one of its sections")
        for key in self.overrides:
            if key.count(".") != 1:
                raise ValueError(f"task {self.name!r}: override {key!r} must name '<station>.<process>'")

    def override(self, process: str) -> Callable[..., Any] | None:
        """The task's own implementation of a station process ("model.train"), if it has one."""
        return _resolve(self.overrides.get(process))

    def section_model(self, name: str) -> type | None:
        """The pydantic model of an order section this task declares a model for ("module:Class" imported now)."""
        found = self.section_models.get(name)
        if found is None or isinstance(found, type):
            return found
        module, _, cls = found.partition(":")
        model: type = getattr(importlib.import_module(module), cls)
        return model

    def hook(self, name: str) -> Callable[..., Any] | None:
        """A named hook the task fills in ("data.read", "serve.app", ...), if it does."""
        return _resolve(self.hooks.get(name))


def _resolve(found: Callable[..., Any] | str | None) -> Callable[..., Any] | None:
    """A callable as declared, or "module:function" imported now (task packages stay cheap to register)."""
    if found is None or callable(found):
        return found
    module, _, name = found.partition(":")
    resolved: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return resolved


class UnknownTask(ValueError):
    """An order names a task nobody registered."""


_registered: dict[str, TaskSpec] = {}
_loaded = False
_lock = threading.Lock()


def register(*specs: TaskSpec) -> None:
    """Add tasks to the registry (a name registered twice is an error: two owners of one task)."""
    with _lock:
        for task in specs:
            if task.name in _registered and _registered[task.name] is not task:
                raise ValueError(f"task {task.name!r} is registered twice")
            _registered[task.name] = task


def unregister(name: str) -> None:
    """Remove a task (tests that registered a toy one)."""
    with _lock:
        _registered.pop(name, None)


def registered() -> dict[str, TaskSpec]:
    """Every task, by name: the installed task packages' and those registered at run time."""
    _load_installed()
    return dict(_registered)


def spec(name: str) -> TaskSpec:
    """The task named `name`; UnknownTask says which exist and which one was probably meant."""
    tasks = registered()
    found = tasks.get(str(name))
    if found is None:
        close = difflib.get_close_matches(str(name), list(tasks), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UnknownTask(f"unknown task '{name}'{hint}; known tasks: {', '.join(sorted(tasks))}")
    return found


def names_with(flag: str) -> list[str]:
    """The tasks whose spec has `flag` true (for messages: "'text' applies to text-classification, ...")."""
    return sorted(name for name, task in registered().items() if getattr(task, flag))


def _load_installed() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        found: list[TaskSpec] = []
        for entry in entry_points(group=GROUP):
            value = entry.load()
            found += list(value) if isinstance(value, Iterable) else [value]
        for task in found:
            _registered.setdefault(task.name, task)
        _loaded = True


def wizard_tasks() -> list[str]:
    """The tasks the portal's order wizard offers, in its order (by `wizard`, then by name)."""
    offered = [task for task in registered().values() if task.wizard is not None]
    return [task.name for task in sorted(offered, key=lambda task: (task.wizard, task.name))]
