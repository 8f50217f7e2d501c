"""The /devices router: denied by default, open to an injected check, and to operators' keys only."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.testclient import TestClient

from mofang.devices.api import authorize_devices, devices_router, operator_guard, router


def client(app_router: APIRouter = router, overrides: dict | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(app_router)
    app.dependency_overrides.update(overrides or {})
    return TestClient(app)


def test_denied_by_default(home: Path) -> None:
    for path in ("/devices", "/devices/health"):
        answer = client().get(path)
        assert answer.status_code == 403 and "operators" in answer.json()["detail"]


def test_allowed_by_an_injected_check(meta, home: Path) -> None:
    calls: list[str] = []

    def operator_only(x_role: str | None = None) -> None:  # a stand-in for the REST API's identity check
        calls.append(x_role or "")
        if x_role != "operator":
            raise HTTPException(403, "operators only")

    app = client(devices_router(operator_only, meta=meta))
    assert app.get("/devices", params={"x_role": "owner"}).status_code == 403
    answer = app.get("/devices", params={"x_role": "operator"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["nodes"][0]["kind"] == "local" and body["nodes"][0]["cpus"] >= 1
    assert {c["name"] for c in body["health"]["checks"]} >= {"disk", "memory", "database", "home"}
    health = app.get("/devices/health", params={"x_role": "operator"})
    assert health.status_code in (200, 503) and health.json()["status"] in ("ok", "warn", "fail")
    assert calls == ["owner", "operator", "operator"]


def test_the_module_router_takes_an_override(meta, home: Path) -> None:
    answer = client(overrides={authorize_devices: lambda: None}).get("/devices/health")
    assert answer.status_code in (200, 503) and "checks" in answer.json()


def test_operator_keys_only(meta, home: Path) -> None:
    from mofang.security.identity import create_api_key, create_tenant

    create_tenant(meta, "acme")
    _, operator = create_api_key(meta, tenant=None, user="ops", role="operator")
    _, owner = create_api_key(meta, tenant="acme", user="li", role="owner")
    app = client(devices_router(operator_guard(meta), meta=meta))
    assert app.get("/devices").status_code == 401
    assert app.get("/devices", headers={"X-API-Key": "mf_000000000000_nope"}).status_code == 401
    refused = app.get("/devices", headers={"Authorization": f"Bearer {owner}"})
    assert refused.status_code == 403 and "may not devices.read" in refused.json()["detail"]
    assert app.get("/devices", headers={"Authorization": f"Bearer {operator}"}).status_code == 200
