"""The customer service center's app: the REST API (/api/v1, OpenAPI at /docs) and the portal pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError

from mofang import __version__
from mofang.core.config import settings
from mofang.core.errors import MofangError, NotFoundError
from mofang.portal import api_catalog, api_factory, api_orders, pages, webhooks
from mofang.portal.auth import PortalState
from mofang.portal.notifier import Notifier
from mofang.portal.uploads import UploadTooLarge
from mofang.products.body_limit import BodyLimit
from mofang.products.serving import unprocessable
from mofang.scheduling.queue import QueueError
from mofang.security.authz import Forbidden
from mofang.security.identity import AuthError
from mofang.store import MetaStore

STATIC = Path(__file__).parent / "static"
DESCRIPTION = """The customer service center of the Mofang factory: place orders (YAML or a form) with uploaded
data, follow their jobs station by station, read reports and data cards, call delivered products, and run the
factory (tenants, keys, audit, queue, workers, devices). Authenticate with an API key:
`Authorization: Bearer mf_...` or `X-API-Key: mf_...`. Another tenant's objects answer 404."""


def create_app(meta: MetaStore | None = None, home: Path | None = None, *, max_upload_mb: float = 200.0,
               notify: bool = True, notifier: Notifier | None = None) -> FastAPI:
    """The portal app over `meta` and `home` (default: the configured ones). With `notify`, a webhook
    dispatcher runs while the app is up."""
    meta = meta or MetaStore()
    home = Path(home) if home is not None else settings().home
    webhooks.ensure_tables(meta)
    dispatcher = notifier or (Notifier(meta, home) if notify else None)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if dispatcher is not None:
            dispatcher.start()
        try:
            yield
        finally:
            if dispatcher is not None:
                dispatcher.stop()

    app = FastAPI(title="Mofang customer service center", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.portal = PortalState.create(meta, home, int(max_upload_mb * 1024 * 1024))
    app.state.bundles = api_catalog.BundleCache()
    for router in (api_factory.router, api_orders.router, api_catalog.router, api_factory.devices(), pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _install_errors(app)
    app.add_middleware(BodyLimit, exempt=("/api/v1/uploads",))  # a body over the cap: 413 (uploads: max_upload_mb)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith(("/docs", "/redoc")):
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    return app


_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (AuthError, 401), (Forbidden, 403), (NotFoundError, 404), (UploadTooLarge, 413), (QueueError, 409),
)


def status_of(exc: Exception) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 422


def _install_errors(app: FastAPI) -> None:
    async def mofang_error(request: Request, exc: Exception) -> Response:
        status = status_of(exc)
        if not request.url.path.startswith("/api/"):
            if status == 401:
                return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)
            return pages.error_page(request, status, str(exc))
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ValidationError)
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    app.add_exception_handler(MofangError, mofang_error)
    app.add_exception_handler(ValidationError, validation_error)
    # a request that fails validation: a 422 whose body is JSON-safe (a raw body that is not UTF-8, NaN, a huge
    # integer or a long string quoted, not echoed; FastAPI's own handler answers a 500 for the first)
    app.add_exception_handler(RequestValidationError, unprocessable)  # type: ignore[arg-type]
