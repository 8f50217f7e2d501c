"""The devices REST router (GET /devices, GET /devices/health) for the factory's REST API to mount.

Device inventory is factory-wide, so it is for operators only. Authorization is injected by the mounting
app and denies by default: either build the router with `devices_router(authorize=...)`, or mount the
module's `router` and override its placeholder dependency:
`app.dependency_overrides[authorize_devices] = operator_guard(meta)`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.responses import JSONResponse

from mofang.core.config import settings
from mofang.core.errors import MofangError, NotFoundError
from mofang.devices.health import health, worst
from mofang.devices.inventory import inventory
from mofang.security.audit import ACCESS_DENIED, AuditLog
from mofang.security.authz import Forbidden, authorize
from mofang.security.identity import authenticate
from mofang.store import MetaStore

if TYPE_CHECKING:
    from mofang.security.identity import Identity
    from mofang.store import MetaStore

ACTION = "devices.read"


def authorize_devices() -> None:
    """The default authorization: deny. The mounting app replaces it (see the module docstring)."""
    raise HTTPException(403, "device inventory is for operators; this server has no authorization configured")


def operator_guard(meta: MetaStore) -> Callable[..., Identity]:
    """A FastAPI dependency: the request's API key (`Authorization: Bearer mf_...` or `X-API-Key`) must
    belong to an identity allowed `devices.read` (operators): 401 without a valid key, 403 otherwise.
    Logins are audited once per key per process; refusals always."""

    seen: set[str] = set()

    def check(authorization: str | None = Header(None), x_api_key: str | None = Header(None)) -> Identity:
        key = x_api_key or (authorization[7:].strip() if authorization and authorization[:7].lower() == "bearer "
                            else None)
        if not key:
            raise HTTPException(401, "an API key is required: send 'Authorization: Bearer mf_...' or 'X-API-Key'",
                                headers={"WWW-Authenticate": "Bearer"})
        try:
            identity = authenticate(meta, key, via=None if key in seen else "api")
        except MofangError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
        try:
            authorize(identity, ACTION, None, what="devices")
        except (Forbidden, NotFoundError) as exc:
            AuditLog(meta).record(ACCESS_DENIED, actor=identity.user, tenant=identity.tenant, object=ACTION,
                                  details={"via": "api"})
            raise HTTPException(403, str(exc)) from None
        seen.add(key)
        return identity

    return check


def devices_router(authorize: Callable[..., Any] = authorize_devices, *, meta: MetaStore | None = None,
                   home: Path | None = None) -> APIRouter:
    """The /devices router. `authorize` is a FastAPI dependency that raises HTTPException to refuse (default:
    refuse everyone). `meta` is the store whose DB the health checks probe (default: one for the configured
    MOFANG_DB_URL, made on first use); `home` the MOFANG_HOME checked (default: the configured one)."""
    router = APIRouter(prefix="/devices", tags=["devices"], dependencies=[Depends(authorize)])
    made: dict[str, MetaStore] = {}  # db url -> store, when the caller gave none

    def store() -> MetaStore:
        if meta is not None:
            return meta

        url = settings().db_url
        if url not in made:
            made[url] = MetaStore(url)
        return made[url]

    def report() -> dict[str, Any]:
        nodes = inventory(home=home)
        checks = health(nodes, meta=store(), home=home)
        return {"nodes": [n.to_dict() for n in nodes],
                "health": {"status": worst(checks), "checks": [c.to_dict() for c in checks]}}

    # Plain `def` endpoints: FastAPI runs them in its thread pool, so NVML, psutil and the DB probe never
    # block the event loop.
    @router.get("", summary="Nodes of this factory (CPUs, memory, disk, GPUs) and their health")
    def list_devices() -> dict[str, Any]:
        return report()

    @router.get("/health", summary="Health checks; 503 when any check fails")
    def devices_health() -> JSONResponse:
        checks = health(meta=store(), home=home)
        status = worst(checks)
        return JSONResponse({"status": status, "checks": [c.to_dict() for c in checks]},
                            status_code=503 if status == "fail" else 200)

    return router


router = devices_router()
