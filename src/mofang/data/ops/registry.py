"""The operator registry: stable string names → operator classes."""

from __future__ import annotations

import difflib
import importlib

from mofang.data.ops.base import Operator, RecipeError

_REGISTRY: dict[str, type[Operator]] = {}
# modules whose import registers operators; listed here so a recipe can name any of them
OPERATOR_MODULES = (
    "mofang.data.clean.ops",
    "mofang.data.pii.ops",
    "mofang.data.text.ops",
    "mofang.data.dedup.ops",
    "mofang.data.quality.text_filter",
    "mofang.data.quality.label_noise",
    "mofang.data.quality.balance",
    "mofang.data.label.ops",
    "mofang.data.augment.smote",
    "mofang.data.augment.synthesize",
    "mofang.data.augment.text",
)


def register(cls: type[Operator]) -> type[Operator]:
    """Class decorator: make an operator available to recipes under its `name`."""
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"operator name {cls.name!r} is taken by {existing.__module__}.{existing.__qualname__}")
    _REGISTRY[cls.name] = cls
    return cls


def load_all() -> None:
    for module in OPERATOR_MODULES:
        importlib.import_module(module)


def operator_class(name: str, *, where: str | None = None) -> type[Operator]:
    """The operator registered as `name`; an unknown name suggests the closest."""
    load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        raise RecipeError(f"unknown operator '{name}'{hint}", field=where) from None


def operators() -> dict[str, type[Operator]]:
    """Every registered operator by name (sorted)."""
    load_all()
    return dict(sorted(_REGISTRY.items()))
