"""Serve several products from one server: each product's API under /products/NAME/, one /metrics for all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response

from mofang import __version__
from mofang.core.errors import MofangError
from mofang.integration.bundle import Bundle
from mofang.products.body_limit import BodyLimit
from mofang.products.runtime import PROMETHEUS_TEXT, KeyCheck, api_key, key_check, scrape_access
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
    with at the root GET /health (a bare liveness check), GET /products (the products the caller's key may
    call) and GET /metrics (labelled by product: with the scrape token every product's series, with an API key
    those of the products it may call). Pending call-audit counts are written when the server stops."""
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
    root = FastAPI(title="Mofang products", version=__version__, openapi_url=None, docs_url=None, redoc_url=None)
    apps = []
    for item in served:
        app = create_app(item.labelled(), version=item.version, guard=item.guard, store=store, metrics=metrics,
                         batching=batching)
        root.mount(f"/products/{item.name}", app)
        apps.append(app)

    @root.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    checks = [(item, key_check(item.guard)) for item in served]

    @root.get("/products")
    async def products(request: Request) -> dict[str, Any]:
        return {"products": await _listing(checks, request)}

    scrape = scrape_access([check for _, check in checks])

    async def shown(request: Request, everything: bool = Depends(scrape)) -> set[str] | None:
        """Whose series the caller reads: every product's (the scrape token) or those its key may call."""
        return None if everything else {entry["product"] for entry in await _listing(checks, request)}

    @root.get("/metrics", include_in_schema=False)
    def prometheus(products: set[str] | None = Depends(shown)) -> Response:
        for app in apps:
            runtime = getattr(app.state, "runtime", None)
            if runtime is not None:
                runtime.settle()
        return Response(metrics.exposition(products), media_type=PROMETHEUS_TEXT)

    # the root passes a body on to the product it is for, each capped at its own limit: the root at the largest
    root.add_middleware(BodyLimit, max_bytes=max(app.state.max_body_bytes for app in apps))
    _flush_audit_on_shutdown(root, apps)
    return root


async def _listing(checks: list[tuple[Served, KeyCheck | None]], request: Request) -> list[dict[str, Any]]:
    """The served products the request's API key may call (every one on an unguarded server), with where they
    answer; the first refusal (401, 403 or 404) when it may call none."""
    key = api_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
    listing, refusals = [], []
    for item, check in checks:
        try:
            if check is not None:
                await check(key)
        except HTTPException as exc:
            refusals.append(exc)
            continue
        listing.append({"product": item.name, "version": item.version, "task": item.bundle.schema["task"],
                        "path": f"/products/{item.name}/"})
    if not listing:
        raise refusals[0]
    return listing


def _flush_audit_on_shutdown(root: FastAPI, apps: list[FastAPI]) -> None:
    def flush() -> None:
        for app in apps:
            runtime = getattr(app.state, "runtime", None)
            if runtime is not None and runtime.audit is not None:
                runtime.audit.flush()

    root.router.on_shutdown.append(flush)
