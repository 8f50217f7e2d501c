"""The customer service center: the REST API, the web portal and order notifications (`mofang portal`).

`create_app` is imported on first use, so that the store can load `mofang.portal.tables` (its `mofang.tables`
entry point) without importing FastAPI and the whole portal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mofang.portal.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from mofang.portal.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
