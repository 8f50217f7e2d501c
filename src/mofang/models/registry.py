"""Candidate families by task: the Trainers a task names in its spec (`TaskSpec.families`, imported when first
asked for), and those registered at run time with `@trainer` (a plug-in or a test's toy task)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mofang.core.tasks import registered
from mofang.core.tasks import spec as task_spec
from mofang.models.trainers.base import Trainer

TRAINERS: dict[str, dict[str, type[Trainer]]] = {}  # task → family → Trainer, registered at run time
UNAVAILABLE: dict[str, str] = {}  # module → why its families are absent (a library it needs is not installed)


def trainer(task: str, family: str) -> Callable[[type[Trainer]], type[Trainer]]:
    """Register a Trainer subclass as `family` for `task` at run time (a task's spec names its own families)."""

    def register(cls: type[Trainer]) -> type[Trainer]:
        if not (isinstance(cls, type) and issubclass(cls, Trainer)):
            raise TypeError(f"@trainer({task!r}, {family!r}) must decorate a Trainer subclass")
        families = TRAINERS.setdefault(task, {})
        declared = task in registered() and family in task_spec(task).families
        if declared or (family in families and families[family] is not cls):
            raise ValueError(f"trainer {family!r} is already registered for {task}")
        cls.task, cls.family = task, family
        families[family] = cls
        return cls

    return register


def trainers_for(task: str) -> dict[str, type[Trainer]]:
    """The families of a task, by name: its spec's (those whose module cannot load are left out, see
    `unavailable`) and those registered at run time."""
    name = task_spec(str(getattr(task, "value", task))).name
    found = {family: cls for family, cls in _declared(name).items() if cls is not None}
    found.update(TRAINERS.get(name, {}))
    if not found:
        raise ValueError(f"no trainers for task {name!r}: its spec names no candidate families (TaskSpec.families)")
    return found


def unavailable(task: str | None = None) -> dict[str, str]:
    """Family modules that could not be loaded (of `task`, or of every task asked for so far), with the reason."""
    if task is None:
        return dict(UNAVAILABLE)
    modules = {where.partition(":")[0] for where in task_spec(str(task)).families.values() if isinstance(where, str)}
    _declared(task_spec(str(task)).name)
    return {module: why for module, why in UNAVAILABLE.items() if module in modules}


def _declared(task: str) -> dict[str, type[Trainer] | None]:
    families: dict[str, type[Trainer] | None] = {}
    for family, where in task_spec(task).families.items():
        cls = _load(where)
        if cls is not None:
            cls.task, cls.family = task, family
        families[family] = cls
    return families


def _load(where: type | str) -> type[Trainer] | None:
    """The Trainer a spec names; None (and the reason kept) when its module, or a library it needs, is missing."""
    if not isinstance(where, str):
        return where
    module, _, name = where.partition(":")
    if module in UNAVAILABLE:
        return None
    try:
        cls: type[Trainer] = getattr(importlib.import_module(module), name)
    except (ImportError, OSError) as exc:  # it, or a library it needs (torch), is not installed
        UNAVAILABLE[module] = f"{type(exc).__name__}: {exc}"
        return None
    return cls


def get_trainer(task: str, family: str) -> Trainer:
    families = trainers_for(task)
    if family not in families:
        raise ValueError(f"unknown family {family!r} for {task} (expected: {', '.join(sorted(families))})")
    return families[family]()
