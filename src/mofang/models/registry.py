"""The trainer registry: candidate families registered per task under stable string names."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mofang.models.trainers.base import Trainer

TRAINERS: dict[str, dict[str, type[Trainer]]] = {}
BUILTIN = ("mofang.models.trainers.baseline", "mofang.models.trainers.linear",
           "mofang.models.trainers.boosting")


def trainer(task: str, family: str) -> Callable[[type[Trainer]], type[Trainer]]:
    """Register a Trainer subclass as `family` for `task` (e.g. "tabular-classification", "lightgbm")."""

    def register(cls: type[Trainer]) -> type[Trainer]:
        if not (isinstance(cls, type) and issubclass(cls, Trainer)):
            raise TypeError(f"@trainer({task!r}, {family!r}) must decorate a Trainer subclass")
        families = TRAINERS.setdefault(task, {})
        if family in families and families[family] is not cls:
            raise ValueError(f"trainer {family!r} is already registered for {task}")
        cls.task, cls.family = task, family
        families[family] = cls
        return cls

    return register


def trainers_for(task: str) -> dict[str, type[Trainer]]:
    """The registered families of a task, by name."""
    for module in BUILTIN:
        importlib.import_module(module)
    task = str(getattr(task, "value", task))
    if task not in TRAINERS:
        raise ValueError(f"no trainers for task {task!r} (known: {', '.join(sorted(TRAINERS))})")
    return dict(TRAINERS[task])


def get_trainer(task: str, family: str) -> Trainer:
    families = trainers_for(task)
    if family not in families:
        raise ValueError(f"unknown family {family!r} for {task} (expected: {', '.join(sorted(families))})")
    return families[family]()
