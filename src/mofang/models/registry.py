"""The trainer registry: candidate families registered per task under stable string names."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from mofang.models.trainers.base import Trainer

TRAINERS: dict[str, dict[str, type[Trainer]]] = {}
BUILTIN = ("mofang.models.trainers.baseline", "mofang.models.trainers.linear",
           "mofang.models.trainers.boosting", "mofang.models.trainers.text_baseline",
           "mofang.models.trainers.text_linear",
           "mofang.models.trainers.text_boosting", "mofang.models.trainers.text_embedding")
# families that need optional libraries (torch, transformers): absent, with the reason, when they cannot load
OPTIONAL = ("mofang.models.trainers.transformer",)
UNAVAILABLE: dict[str, str] = {}  # module → why its families are absent


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
    _load_builtin()
    task = str(getattr(task, "value", task))
    if task not in TRAINERS:
        raise ValueError(f"no trainers for task {task!r} (known: {', '.join(sorted(TRAINERS))})")
    return dict(TRAINERS[task])


def unavailable() -> dict[str, str]:
    """Optional family modules that could not be loaded, with the reason (for the model plan)."""
    _load_builtin()
    return dict(UNAVAILABLE)


def _load_builtin() -> None:
    for module in BUILTIN:
        importlib.import_module(module)
    for module in OPTIONAL:
        if module in UNAVAILABLE:
            continue
        try:
            importlib.import_module(module)
        except (ImportError, OSError) as exc:  # it, or a library it needs (torch), is not installed
            UNAVAILABLE[module] = f"{type(exc).__name__}: {exc}"


def get_trainer(task: str, family: str) -> Trainer:
    families = trainers_for(task)
    if family not in families:
        raise ValueError(f"unknown family {family!r} for {task} (expected: {', '.join(sorted(families))})")
    return families[family]()
