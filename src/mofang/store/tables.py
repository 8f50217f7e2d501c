"""Each unit owns its tables; the store creates them all. A unit (or a task package) declares its table module
under the `mofang.tables` entry point group in its distribution's metadata, so the store never imports it by name.

A table module may also say what it holds about a tenant's orders, for certified destruction:
`forget(session, tenant, orders: list[str] | None)` deletes its rows of those orders (all the tenant's when None),
`order_copies(meta, tenant, order) -> list[Path]` names files outside the job folders made from the order.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType

GROUP = "mofang.tables"


@cache
def unit_table_modules() -> tuple[ModuleType, ...]:
    """Every declared table module, imported (each registers its tables on `mofang.store.models.Base`)."""
    names = sorted({entry.value for entry in entry_points(group=GROUP)})
    if not names:
        raise RuntimeError(f"no '{GROUP}' entry points: mofang's metadata is missing (pip install -e . again)")
    return tuple(importlib.import_module(name) for name in names)


def load_unit_tables() -> tuple[str, ...]:
    """Register every unit's tables before the schema is created; returns the modules' names."""
    return tuple(module.__name__ for module in unit_table_modules())
