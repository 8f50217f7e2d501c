"""The request body cap (MOFANG_MAX_BODY_BYTES) on real product servers and on the portal: a body over it is a
413 with a JSON body naming the limit and the variable, whether its size is declared or it streams in chunked,
on a connection that still answers; a body at the cap is served."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from mofang.core.errors import MofangError
from mofang.integration.bundle import Bundle
from mofang.products.body_limit import DEFAULT_MAX_BODY_BYTES, MAX_BODY_ENV, max_body_bytes
from mofang.products.multi import Served, serving_app
from mofang.products.server import running_app
from mofang.products.serving import create_app
from tests.products.test_served_routes import tabular_bundle, vision_bundle

CAP = 4096
ROW = {"x0": 0.5, "x1": -1.2, "x2": 0.3, "x3": 1.1, "x4": 0.0, "城市": "北京", "channel": "", "signup": "2021-05-01",
       "vip": 1}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return tabular_bundle(tmp_path_factory.mktemp("churn"))


@pytest.fixture()
def capped(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv(MAX_BODY_ENV, str(CAP))
    return CAP


def body_of(size: int) -> bytes:
    """A /predict body of exactly `size` bytes: one row, its `channel` value padded."""
    bare = json.dumps({"rows": [ROW]}).encode()
    assert size >= len(bare)
    return json.dumps({"rows": [{**ROW, "channel": "w" * (size - len(bare))}]}).encode()


def chunks(total: int, size: int = 1000) -> Iterator[bytes]:
    """`total` bytes sent chunked (no Content-Length): the start of a JSON body, then padding."""
    sent = 0
    while sent < total:
        part = min(size, total - sent)
        yield b" " * part
        sent += part


def refused(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["limit_bytes"] == CAP and body["env"] == MAX_BODY_ENV
    assert f"over the limit of {CAP:,} bytes ({MAX_BODY_ENV} raises it)" in body["detail"]
    return body


def test_a_product_server_refuses_a_body_over_the_cap_and_serves_one_at_it(bundle: Bundle, capped: int) -> None:
    assert len(body_of(capped)) == capped
    with running_app(serving_app([Served(bundle, 1)])) as url, httpx.Client(base_url=url, timeout=30) as client:
        headers = {"content-type": "application/json"}
        at_cap = client.post("/predict", content=body_of(capped), headers=headers)
        assert at_cap.status_code == 200, at_cap.text
        assert len(at_cap.json()["predictions"]) == 1
        body = refused(client.post("/predict", content=body_of(capped + 1), headers=headers))
        assert f"of {capped + 1:,} bytes" in body["detail"]  # declared by Content-Length: refused unread
        refused(client.post("/predict", content=b"{" + b" " * (1 << 20), headers=headers))  # 1 MiB sent anyway
        streamed = refused(client.post("/predict", content=chunks(capped + 1), headers=headers))  # chunked
        assert "bytes of" not in streamed["detail"]
        assert client.get("/health").json() == {"status": "ok"}  # the connection still answers
        assert client.get("/metadata").json()["limits"]["body_bytes"] == capped
        small = client.post("/predict", content=chunks(100), headers=headers)  # chunked, under the cap
        assert small.status_code == 422, small.text  # reached the route: blanks are no JSON rows


def test_several_products_on_one_server_are_each_capped(bundle: Bundle, capped: int) -> None:
    app = serving_app([Served(bundle, 1, label="churn-a"), Served(bundle, 1, label="churn-b")])
    with running_app(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        for name in ("churn-a", "churn-b"):
            path = f"/products/{name}/predict"
            refused(client.post(path, content=body_of(capped + 1), headers={"content-type": "application/json"}))
            refused(client.post(path, content=chunks(capped + 1), headers={"content-type": "application/json"}))
            assert client.post(path, json={"rows": [ROW]}).status_code == 200


def test_a_guarded_products_openapi_document_declares_the_413(bundle: Bundle, meta) -> None:
    from mofang.security.authz import product_guard

    document = create_app(bundle, guard=product_guard(meta, bundle.metadata["tenant"])).openapi()
    refusal = document["paths"]["/predict"]["post"]["responses"]["413"]
    assert MAX_BODY_ENV in refusal["description"]
    assert refusal["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_the_default_cap_and_a_kind_that_declares_more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mofang.tasks.vision.serving import MAX_REQUEST_BYTES

    monkeypatch.delenv(MAX_BODY_ENV, raising=False)
    assert max_body_bytes() == DEFAULT_MAX_BODY_BYTES == 32 << 20
    assert create_app(vision_bundle(tmp_path)).state.max_body_bytes == MAX_REQUEST_BYTES  # images: 96 MiB
    monkeypatch.setenv(MAX_BODY_ENV, "1000")  # the variable sets every product's cap, a kind's declared one too
    assert create_app(vision_bundle(tmp_path)).state.max_body_bytes == 1000
    for bad in ("lots", "-5", "0"):
        monkeypatch.setenv(MAX_BODY_ENV, bad)
        with pytest.raises(MofangError, match=f"{MAX_BODY_ENV} must be a positive whole number"):
            max_body_bytes()


def test_the_portal_caps_bodies_but_not_its_uploads(home: Path, meta, capped: int) -> None:
    from mofang.portal import create_app as portal_app
    from mofang.security.identity import create_api_key, create_tenant

    create_tenant(meta, "acme")
    key = create_api_key(meta, tenant="acme", user="owner", role="owner")[1]
    with TestClient(portal_app(meta, home, max_upload_mb=1, notify=False), headers={"X-API-Key": key}) as client:
        order = {"yaml": "id: big\ntenant: acme\n" + "#" * (2 * capped)}
        refused(client.post("/api/v1/orders", json=order))
        refused(client.post("/api/v1/orders", content=chunks(capped + 1), headers={"content-type": "application/json"}))
        small = client.post("/api/v1/orders", json={"yaml": "id: small\n"})
        assert small.status_code == 422 and "413" not in small.text  # under the cap: the route answers
        data = b"a,b\n" + b"1,2\n" * (capped // 2)  # over the body cap: an upload has its own (max_upload_mb)
        uploaded = client.post("/api/v1/uploads", params={"name": "big.csv"}, content=data)
        assert uploaded.status_code == 201, uploaded.text
