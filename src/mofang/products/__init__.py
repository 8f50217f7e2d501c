"""Product engineering center: delivery into the product registry, serving, monitoring, feedback and the
improvement loop, and the marketplace. Names are imported lazily, so the store can register this center's
tables (`mofang.products.tables`) without importing the line."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {"DeliveryStation": "mofang.products.delivery", "Bundle": "mofang.integration.bundle",
            "create_app": "mofang.products.serving", "load_bundle": "mofang.integration.bundle",
            "open_bundle": "mofang.integration.bundle"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mofang.products' has no attribute '{name}'")
    return getattr(import_module(_EXPORTS[name]), name)
