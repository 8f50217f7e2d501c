"""The security center's isolation checks over EVERY route of the portal app: tenant B's key gets 404 for
tenant A's objects, no key 401 (pages: a redirect to sign-in), a role below the action 403, and nothing of
A's appears in any answer B gets."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mofang.security.tables import ApiKey
from mofang.store import MetaStore
from tests.portal.conftest import ORDER, TENANT, Factory

JOB = "{job}"  # placeholders filled from the factory


@dataclass(frozen=True)
class Attack:
    """One request aimed at tenant A's objects, and what tenant B's owner must get back."""

    path: str
    b: int  # the status tenant B's owner gets
    json: Callable[[Factory], Any] | None = None
    content: bytes | None = None
    params: dict[str, str] = field(default_factory=dict)


def _yaml(f: Factory) -> dict[str, str]:
    return {"yaml": f"id: stolen\ntenant: {TENANT}\ntask: tabular-classification\ntarget: 是否违约\n"
                    f"data: [{{path: '{f.upload_id}/loans.csv'}}]\nacceptance: none\n"}


A = {"tenant": TENANT}
ROWS = {"rows": [{"年龄": 30}]}
# (method, route path) -> the attack. B's own listings answer 200 with nothing of A's; A's objects 404;
# operator-only routes 403.
ATTACKS: dict[tuple[str, str], Attack] = {
    ("GET", "/api/v1/me"): Attack("/api/v1/me", 200),
    ("GET", "/api/v1/tenants"): Attack("/api/v1/tenants", 200),
    ("POST", "/api/v1/tenants"): Attack("/api/v1/tenants", 403, json=lambda f: {"id": "gamma"}),
    ("GET", "/api/v1/keys"): Attack("/api/v1/keys", 404, params=A),
    ("POST", "/api/v1/keys"): Attack("/api/v1/keys", 404, json=lambda f: {"user": "x", "role": "owner", **A}),
    ("DELETE", "/api/v1/keys/{key_id}"): Attack("/api/v1/keys/{owner_a}", 404),
    ("GET", "/api/v1/audit"): Attack("/api/v1/audit", 404, params=A),
    ("GET", "/api/v1/queue"): Attack("/api/v1/queue", 403),
    ("GET", "/api/v1/workers"): Attack("/api/v1/workers", 403),
    ("GET", "/api/v1/devices"): Attack("/api/v1/devices", 403),
    ("GET", "/api/v1/devices/health"): Attack("/api/v1/devices/health", 403),
    ("PUT", "/api/v1/webhook"): Attack("/api/v1/webhook", 404, params=A, json=lambda f: {"url": "http://127.0.0.1:9/"}),
    ("GET", "/api/v1/webhook"): Attack("/api/v1/webhook", 404, params=A),
    ("DELETE", "/api/v1/webhook"): Attack("/api/v1/webhook", 404, params=A),
    ("GET", "/api/v1/webhook/deliveries"): Attack("/api/v1/webhook/deliveries", 404, params=A),
    ("POST", "/api/v1/uploads"): Attack("/api/v1/uploads", 201, params={"name": "mine.csv"}, content=b"a,b\n1,2\n"),
    ("GET", "/api/v1/uploads"): Attack("/api/v1/uploads", 200),
    ("GET", "/api/v1/uploads/{upload_id}/profile"): Attack("/api/v1/uploads/{upload}/profile", 404),
    ("POST", "/api/v1/orders"): Attack("/api/v1/orders", 404, json=_yaml),
    ("POST", "/api/v1/orders/form"): Attack("/api/v1/orders/form", 404,
                                            json=lambda f: {"id": "stolen", "uploads": [f.upload_id], **A}),
    ("GET", "/api/v1/orders"): Attack("/api/v1/orders", 404, params=A),
    ("GET", "/api/v1/orders/{order_id}"): Attack(f"/api/v1/orders/{ORDER}", 404),
    ("POST", "/api/v1/orders/{order_id}/cancel"): Attack(f"/api/v1/orders/{ORDER}/cancel", 404, params=A),
    ("GET", "/api/v1/orders/{order_id}/report"): Attack(f"/api/v1/orders/{ORDER}/report", 404, params=A),
    ("GET", "/api/v1/jobs"): Attack("/api/v1/jobs", 404, params=A),
    ("GET", "/api/v1/jobs/{job_id}"): Attack(f"/api/v1/jobs/{JOB}", 404),
    ("POST", "/api/v1/jobs/{job_id}/cancel"): Attack(f"/api/v1/jobs/{JOB}/cancel", 404),
    ("POST", "/api/v1/jobs/{job_id}/retry"): Attack(f"/api/v1/jobs/{JOB}/retry", 404),
    ("GET", "/api/v1/jobs/{job_id}/events"): Attack(f"/api/v1/jobs/{JOB}/events", 404),
    ("GET", "/api/v1/products"): Attack("/api/v1/products", 404, params=A),
    ("GET", "/api/v1/products/{name}"): Attack(f"/api/v1/products/{ORDER}", 404),
    ("GET", "/api/v1/products/{name}/versions/{version}/report"): Attack(f"/api/v1/products/{ORDER}/versions/1/report",
                                                                         404, params=A),
    ("GET", "/api/v1/products/{name}/versions/{version}/card"): Attack(f"/api/v1/products/{ORDER}/versions/1/card",
                                                                       404),
    ("POST", "/api/v1/products/{name}/predict"): Attack(f"/api/v1/products/{ORDER}/predict", 404, json=lambda f: ROWS),
    ("POST", "/api/v1/products/{name}/ask"): Attack(f"/api/v1/products/{ORDER}/ask", 404,
                                                    json=lambda f: {"question": "多少?"}),
    ("GET", "/api/v1/datasets"): Attack("/api/v1/datasets", 404, params=A),
    ("GET", "/api/v1/datasets/{digest}"): Attack("/api/v1/datasets/{digest}", 404),
    ("GET", "/api/v1/datasets/{digest}/card"): Attack("/api/v1/datasets/{digest}/card", 404),
    ("GET", "/api/v1/datasets/{digest}/card.html"): Attack("/api/v1/datasets/{digest}/card.html", 404, params=A),
    # the portal's pages (signed in with the key as a header here; the browser test uses the cookie session)
    ("GET", "/"): Attack("/", 303),
    ("GET", "/orders"): Attack("/orders", 200),
    ("GET", "/orders/new"): Attack("/orders/new", 200),
    ("POST", "/orders/new"): Attack("/orders/new", 403),  # no session CSRF token
    ("GET", "/orders/{order_id}"): Attack(f"/orders/{ORDER}", 404),
    ("GET", "/orders/{order_id}/report"): Attack(f"/orders/{ORDER}/report", 404),
    ("GET", "/products"): Attack("/products", 200),
    ("GET", "/products/{name}"): Attack(f"/products/{ORDER}", 404),
    ("POST", "/products/{name}/try"): Attack(f"/products/{ORDER}/try", 403),  # CSRF first, before any lookup
    ("GET", "/datasets"): Attack("/datasets", 200),
    ("GET", "/datasets/{digest}"): Attack("/datasets/{digest}", 404),
    ("GET", "/ops"): Attack("/ops", 403),
    ("GET", "/audit"): Attack("/audit", 200),
}
# Routes anyone may call: documentation, sign-in, language, static files.
PUBLIC = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
          ("GET", "/signin"), ("POST", "/signin"), ("GET", "/lang/{code}"), ("GET", "/favicon.ico")}
SIGNED_IN_ONLY = {("POST", "/signout")}  # no object of any tenant


def _routes() -> set[tuple[str, str]]:
    """(method, path) of every route the app answers, included routers flattened (old and new FastAPI)."""
    from mofang.portal import create_app
    from mofang.store import MetaStore

    def walk(routes) -> list[tuple[str, set[str]]]:
        found = []
        for route in routes:
            if hasattr(route, "effective_route_contexts"):  # FastAPI ≥ 0.13x: an included router
                found += [(c.path, set(getattr(c.original_route, "methods", None) or ()))
                          for c in route.effective_route_contexts()]
            elif getattr(route, "methods", None):
                found.append((route.path, set(route.methods)))
        return found

    app = create_app(MetaStore("sqlite://"), notify=False)
    found = {(method, path) for path, methods in walk(app.routes) for method in methods if method != "HEAD"}
    assert ("GET", "/api/v1/orders") in found and ("GET", "/orders") in found, sorted(found)
    return found


def test_the_attack_table_covers_every_route() -> None:
    missing = _routes() - set(ATTACKS) - PUBLIC - SIGNED_IN_ONLY
    assert not missing, f"routes not in the isolation table: {sorted(missing)}"


def _ids(f: Factory) -> dict[str, str]:
    """A's identifiers the attacks name -> stand-ins that name nothing at all."""
    return {ORDER: "ghost-order", TENANT: "ghost-tenant", f.upload_id: "abcdef0123456789", f.digest: "e" * 64,
            f.key_id("owner_a"): "d" * 12, JOB: "999999"}


def _fill(f: Factory, text: str, ghost: bool = False) -> str:
    text = text.replace(JOB, JOB if ghost else str(f.job)).replace("{upload}", f.upload_id)
    text = text.replace("{digest}", f.digest).replace("{owner_a}", f.key_id("owner_a"))
    if ghost:
        for real, stand_in in _ids(f).items():
            text = text.replace(real, stand_in)
    return text


def _send(f: Factory, who: str | None, key: tuple[str, str], ghost: bool = False):
    attack = ATTACKS[key]
    params = {k: _fill(f, v, ghost) for k, v in attack.params.items()}
    body = json.loads(_fill(f, json.dumps(attack.json(f), ensure_ascii=False), ghost)) if attack.json else None
    with f.client(who) as client:
        return client.request(key[0], _fill(f, attack.path, ghost), params=params, content=attack.content, json=body)


def _normal(f: Factory, text: str) -> str:
    for name in sorted((n for pair in _ids(f).items() for n in pair), key=len, reverse=True):
        text = text.replace(name, "<id>")
    return text.replace(str(f.job), "<id>")


@pytest.mark.parametrize("key", sorted(ATTACKS), ids=lambda k: f"{k[0]} {k[1]}")
def test_tenant_b_cannot_reach_tenant_a(factory: Factory, key: tuple[str, str]) -> None:
    answer = _send(factory, "owner_b", key)
    assert answer.status_code == ATTACKS[key].b, answer.text[:300]
    if answer.status_code == 404:  # A's object reads exactly like one that does not exist
        missing = _send(factory, "owner_b", key, ghost=True)
        assert (missing.status_code, _normal(factory, missing.text)) == (404, _normal(factory, answer.text))
    else:
        for secret in (ORDER, TENANT, factory.digest[:12], factory.upload_id, factory.key_id("owner_a")):
            assert secret not in answer.text, (secret, answer.text[:300])


@pytest.mark.parametrize("key", sorted(ATTACKS), ids=lambda k: f"{k[0]} {k[1]}")
def test_no_key_is_refused(factory: Factory, key: tuple[str, str]) -> None:
    answer = _send(factory, None, key)
    if key[1].startswith("/api/"):
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer", answer.text[:200]
    else:
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin"), answer.status_code


@pytest.mark.parametrize("method, path, body", [
    ("POST", "/api/v1/orders", _yaml),
    ("POST", f"/api/v1/jobs/{JOB}/cancel", None),
    ("POST", f"/api/v1/jobs/{JOB}/retry", None),
    ("POST", "/api/v1/keys", lambda f: {"user": "x", "role": "viewer"}),
    ("PUT", "/api/v1/webhook", lambda f: {"url": "http://127.0.0.1:9/"}),
    ("GET", "/api/v1/audit", None),
    ("GET", "/api/v1/queue", None),
    ("POST", "/api/v1/uploads?name=x.csv", None),
])
def test_a_viewer_is_refused_by_role(factory: Factory, method: str, path: str, body) -> None:
    with factory.client("viewer_a") as viewer:
        answer = viewer.request(method, _fill(factory, path), json=body(factory) if body else None,
                                content=b"a\n1\n" if "uploads" in path else None)
    assert answer.status_code == 403, answer.text


def test_an_operator_runs_the_factory_but_reads_no_tenant_data(factory: Factory) -> None:
    with factory.client("operator") as ops:
        assert ops.get("/api/v1/queue").status_code == 200
        assert ops.get("/api/v1/devices").status_code == 200
        assert {t["id"] for t in ops.get("/api/v1/tenants").json()} >= {TENANT, "beta"}
        assert ops.get("/ops").status_code == 200
        for path in (f"/api/v1/orders/{ORDER}/report", f"/api/v1/products/{ORDER}/versions/1/report"):
            assert ops.get(path, params=A).status_code == 403


def test_refusals_are_audited(factory: Factory) -> None:
    # a refusal by authorization (an operators-only route): audited whatever ran before. (Another tenant's order
    # is not found by owner_b's tenant-scoped lookup before any authorization, so that 404 leaves no event; this
    # test used to pass only when earlier tests had left owner_b refusals behind.)
    with factory.client("owner_b") as client:
        assert client.get("/api/v1/queue").status_code == 403
    with factory.client("operator") as ops:
        events = ops.get("/api/v1/audit", params={"action": "access.denied"}).json()["events"]
    assert any(e["actor"] == "owner_b" and e["details"].get("via") == "api" for e in events)


def test_a_key_that_expires_after_signing_in_stops_working(factory: Factory) -> None:
    with factory.client("owner_a") as owner:
        made = owner.post("/api/v1/keys", json={"user": "brief", "role": "viewer"}).json()
    with factory.client() as anyone:
        headers = {"X-API-Key": made["key"]}
        assert anyone.get("/api/v1/orders", headers=headers).status_code == 200  # verified and remembered
        meta = MetaStore()  # the portal's own store (MOFANG_HOME of the factory)
        with meta.session() as s:
            s.get(ApiKey, made["key_id"]).expires_at = datetime.now(UTC) - timedelta(minutes=1)
        refused = anyone.get("/api/v1/orders", headers=headers)
        assert refused.status_code == 401 and "expired" in refused.json()["detail"]


def test_a_revoked_key_stops_working(factory: Factory) -> None:
    with factory.client("owner_a") as owner:
        made = owner.post("/api/v1/keys", json={"user": "temp", "role": "viewer"}).json()
        assert made["tenant"] == TENANT
    with factory.client() as anyone:
        headers = {"X-API-Key": made["key"]}
        assert anyone.get("/api/v1/orders", headers=headers).status_code == 200
        with factory.client("owner_a") as owner:
            assert owner.delete(f"/api/v1/keys/{made['key_id']}").status_code == 200
        assert anyone.get("/api/v1/orders", headers=headers).status_code == 401
