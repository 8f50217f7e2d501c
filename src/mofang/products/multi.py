"""Serve several products from one server: each product's API under /products/NAME/, one /metrics for all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response

from mofang import __version__
from mofang.core.errors import MofangError
from mofang.integration.bundle import Bundle
from mofang.products.runtime import PROMETHEUS_TEXT
from mofang.products.serving import create_app
from mofang.products.telemetry import ServingMetrics


@dataclass
class Served:
    """One product to serve: its bundle, version number and API-key guard."""

    bundle: Bundle
    version: int | None
    guard: Callable[[str | None], Any] | None = None
    label: str | None = None  # the name to mount it under (default: the bundle's product name)

    @property
    def name(self) -> str:
        return self.label or str(self.bundle.metadata["product"])

    def labelled(self) -> Bundle:
        """The bundle as served: answers, metrics, feedback and audit name it by `name`."""
        return replace(self.bundle, metadata={**self.bundle.metadata, "product": self.name})


def serving_app(served: list[Served], *, store: Any = None, batching: bool = True) -> FastAPI:
    """One product keeps its API at the root (as it always had); several are mounted under /products/NAME/,
    with GET /health and GET /metrics (every product, labelled) at the root. Pending call-audit counts are
    written when the server stops."""
    if not served:
        raise MofangError("nothing to serve: name at least one product")
    if len(served) == 1:
        one = served[0]
        app = create_app(one.labelled(), version=one.version, guard=one.guard, store=store, batching=batching)
        _flush_audit_on_shutdown(app, [app])
        return app
    names = [s.name for s in served]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise MofangError(f"product {', '.join(twice)} is named twice; serve one version of each product per "
                          "server (run another server for another version)")
    metrics = ServingMetrics()
    root = FastAPI(title="Mofang products", version=__version__,
                   description="Products served together: " + ", ".join(f"/products/{n}/docs" for n in names))
    apps = []
    for item in served:
        app = create_app(item.labelled(), version=item.version, guard=item.guard, store=store, metrics=metrics,
                         batching=batching)
        root.mount(f"/products/{item.name}", app)
        apps.append(app)
    listing = [{"product": s.name, "version": s.version, "task": s.bundle.schema["task"],
                "path": f"/products/{s.name}/"} for s in served]

    @root.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "products": listing}

    @root.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        for app in apps:
            runtime = getattr(app.state, "runtime", None)
            if runtime is not None:
                runtime.settle()
        return Response(metrics.exposition(), media_type=PROMETHEUS_TEXT)

    _flush_audit_on_shutdown(root, apps)
    return root


def _flush_audit_on_shutdown(root: FastAPI, apps: list[FastAPI]) -> None:
    def flush() -> None:
        for app in apps:
            runtime = getattr(app.state, "runtime", None)
            if runtime is not None and runtime.audit is not None:
                runtime.audit.flush()

    root.router.on_shutdown.append(flush)
