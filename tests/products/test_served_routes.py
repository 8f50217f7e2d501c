"""Every route of a guarded product server, walked from the app's own route table (a route added later is
covered without editing this test), refuses a caller without a valid key of the product's tenant: no key, a
forged key, a revoked key, another tenant's key and an operator's key (no tenant data) all get 401, 403 or 404;
only the bare liveness check answers, and it names nothing. The OpenAPI document is the owner's and declares
how to send a key and what a row's fields are; /metrics takes a key or the scrape token."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from mofang.integration.bundle import Bundle
from mofang.products.multi import Served, serving_app
from mofang.products.runtime import METRICS_TOKEN_ENV
from mofang.security.authz import product_guard
from mofang.security.identity import create_api_key, create_tenant, revoke_api_key
from tests.products.test_product_contract import TENANT, anomaly_kind, forecast_kind

OTHER = "beta-co"
LIVENESS = "/health"


def _meta(product: str, task: str, **extra: Any) -> dict[str, Any]:
    return {"product": product, "tenant": TENANT, "order_id": product, "job_id": 1, "task": task,
            "target": extra.pop("target", None), "family": "f", "candidate": "f", **extra}


def tabular_bundle(folder: Path) -> Bundle:
    """A linear churn-like classifier fitted in a few seconds (numeric, categorical, date and boolean fields)."""
    from mofang.models.registry import get_trainer
    from tests.models.tabular_fixtures import classification_data

    data = classification_data(n=300)
    candidate, _ = get_trainer("tabular-classification", "linear").fit(data["train"], data["valid"],
                                                                       data["dataset"], budget_s=3)
    schema = {"task": "tabular-classification", "target": "label", "features": data["dataset"]["features"],
              "id_column": "row_id", "ignored": []}
    return Bundle(path=folder, candidate=candidate, schema=schema,
                  metadata=_meta("churn-secret", "tabular-classification", target="label"))


def retrieval_bundle(folder: Path) -> Bundle:
    """A BM25 FAQ knowledge base (POST /ask and the OpenAI-compatible chat route)."""
    from mofang.tasks.retrieval.models import QAColumns, RetrievalModel
    from tests.tasks.retrieval.models.retrieval_fixtures import OUT_OF_DOMAIN, faq_frame

    frame = faq_frame()
    model = RetrievalModel.from_pairs(frame.iloc[:7], QAColumns(questions=("问题",), answer="答案", query="问法",
                                                                sources=("部门",)),
                                      held_out=[frame.iloc[7:]], dense=())
    model.tune(frame.iloc[7:], OUT_OF_DOMAIN[:4], mask_self=False, target_precision=1.0)
    schema = {"task": "retrieval-qa", "target": "答案", "features": [], "id_column": None, "classes": None,
              "ignored": []}
    return Bundle(path=folder, candidate=model, schema=schema, metadata=_meta("faq-secret", "retrieval-qa",
                                                                             target="答案"))


def chat_bundle(folder: Path) -> Bundle:
    """A chat product's routes (/v1/chat/completions, /v1/models) over a model that is never reached: every
    call here is refused before it."""
    from mofang.tasks.llm.product import llm_schema

    schema = llm_schema({"max_positions": 512, "max_new_tokens": 16, "system_prompt": "s"})
    return Bundle(path=folder, candidate=object(), schema=schema, metadata=_meta("chat-secret", schema["task"]))


def vision_bundle(folder: Path) -> Bundle:
    """An image product's routes (POST /predict with images) over a model that is never reached."""
    schema = {"task": "image-classification", "target": "label", "features": [], "id_column": None,
              "classes": ["good", "crack"], "ignored": []}
    return Bundle(path=folder, candidate=object(), schema=schema,
                  metadata=_meta("vision-secret", "image-classification", target="label"))


KINDS: dict[str, Callable[[Path], Bundle]] = {
    "tabular": tabular_bundle, "forecast": lambda folder: forecast_kind(folder).bundle,
    "anomaly": lambda folder: anomaly_kind(folder).bundle, "retrieval": retrieval_bundle, "chat": chat_bundle,
    "vision": vision_bundle}


@pytest.fixture()
def keys(meta) -> dict[str, str]:
    """The product tenant's owner, and the keys that must be refused (None: no key at all)."""
    create_tenant(meta, TENANT)
    create_tenant(meta, OTHER)
    revoked_identity, revoked = create_api_key(meta, tenant=TENANT, user="leaver", role="member")
    revoke_api_key(meta, revoked_identity.key_id)
    owner = create_api_key(meta, tenant=TENANT, user="ann", role="owner")[1]
    return {"owner": owner, "forged": owner[:-43] + "A" * 43, "revoked": revoked,  # the owner's key id, forged
            "other tenant": create_api_key(meta, tenant=OTHER, user="eve", role="owner")[1],
            "operator": create_api_key(meta, tenant=None, user="ops", role="operator")[1]}


def walk(app: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route of `app`, mounted apps included (path parameters filled in)."""
    for route in app.routes:
        if isinstance(route, Mount):
            yield from walk(route.app, prefix + route.path)
        elif isinstance(route, Route):
            path = prefix + route.path
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                yield method, path.replace("{", "").replace("}", "")


def refusals(app: FastAPI, keys: dict[str, str], names: list[str]) -> list[str]:
    """What every route answers each refused caller, where that is not a refusal (or the liveness check names
    a product)."""
    found = []
    routes = sorted(set(walk(app)))
    assert any(path.endswith("/openapi.json") for _, path in routes) and len(routes) > 8, routes
    with TestClient(app) as client:
        for who in ("none", "forged", "revoked", "other tenant", "operator"):
            headers = {} if who == "none" else {"Authorization": f"Bearer {keys[who]}"}
            for method, path in routes:
                answer = client.request(method, path, headers=headers, json={} if method == "POST" else None)
                if path.endswith(LIVENESS):
                    if answer.status_code != 200 or answer.json() != {"status": "ok"} \
                            or any(name in answer.text for name in names):
                        found.append(f"{who}: {method} {path} -> {answer.status_code} {answer.text[:200]}")
                elif answer.status_code not in (401, 403, 404):
                    found.append(f"{who}: {method} {path} -> {answer.status_code} {answer.text[:200]}")
    return found


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_route_refuses_callers_without_a_key_of_the_products_tenant(kind: str, meta, keys,
                                                                         tmp_path: Path) -> None:
    bundle = KINDS[kind](tmp_path / "bundle")
    app = serving_app([Served(bundle, 1, product_guard(meta, TENANT))], store=meta)
    assert refusals(app, keys, [bundle.metadata["product"]]) == []
    owner = {"X-API-Key": keys["owner"]}
    with TestClient(app) as client:  # the owner reads what everyone else was refused
        assert client.get("/metadata", headers=owner).json()["product"] == bundle.metadata["product"]
        assert client.get("/openapi.json", headers=owner).json()["info"]["title"].endswith("v1")
        assert client.get("/metrics", headers=owner).status_code == 200


def test_several_products_on_one_server_refuse_as_one(meta, keys, tmp_path: Path) -> None:
    products = [Served(KINDS[kind](tmp_path / kind), 1, product_guard(meta, TENANT)) for kind in ("forecast",
                                                                                                   "anomaly")]
    app = serving_app(products, store=meta)
    names = [p.name for p in products]
    assert refusals(app, keys, names) == []
    with TestClient(app) as client:  # the root's listing is for a key that may call them
        listed = client.get("/products", headers={"X-API-Key": keys["owner"]}).json()["products"]
        assert [p["product"] for p in listed] == names
        assert client.get("/metrics", headers={"X-API-Key": keys["owner"]}).status_code == 200


def test_the_openapi_document_declares_its_keys_and_typed_rows(meta, keys, tmp_path: Path) -> None:
    bundle = tabular_bundle(tmp_path / "bundle")
    app = serving_app([Served(bundle, 1, product_guard(meta, TENANT))], store=meta)
    owner = {"Authorization": f"Bearer {keys['owner']}"}
    with TestClient(app) as client:
        document = client.get("/openapi.json", headers=owner).json()
        page = client.get("/docs", headers=owner)
        redoc = client.get("/redoc", headers=owner)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert document["paths"]["/predict"]["post"]["security"] == [{"bearer": []}, {"apiKey": []}]
    assert "security" not in document["paths"]["/health"]["get"]  # the liveness check is open
    row = document["components"]["schemas"]["Row"]["properties"]
    types = {name: [t.get("type") for t in field["anyOf"]] for name, field in row.items()}
    assert types["x0"] == ["number", "string", "null"] and types["vip"][0] == "boolean"
    assert types["signup"][0] == "string"
    assert row["x0"]["anyOf"][0]["maximum"] == 1e15 and "imputed" in row["x0"]["description"]
    assert "imputes it" in json.dumps(document["components"]["schemas"]["PredictRequest"])
    assert page.status_code == redoc.status_code == 200
    assert "churn-secret" in page.text and "SwaggerUIBundle" in page.text and "</script><" not in json.dumps(
        document)


def test_metrics_take_a_key_or_the_scrape_token(meta, keys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(METRICS_TOKEN_ENV, "scrape-me-0123456789")
    bundle = forecast_kind(tmp_path / "bundle").bundle
    guarded = serving_app([Served(bundle, 1, product_guard(meta, TENANT))], store=meta)
    with TestClient(guarded) as client:
        assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"}).status_code == 200
        assert client.get("/metrics", headers={"X-API-Key": keys["owner"]}).status_code == 200
        assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me-wrong"}).status_code == 401
        assert client.get("/metrics").status_code == 401
        # the token opens /metrics only
        assert client.get("/metadata", headers={"Authorization": "Bearer scrape-me-0123456789"}).status_code == 401
    with TestClient(serving_app([Served(bundle, 1)], store=meta)) as client:  # unguarded: the token still asked
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"}).status_code == 200
        assert client.get("/metadata").status_code == 200


def test_metrics_of_a_server_of_two_tenants_show_a_key_only_its_own_products(meta, keys, tmp_path: Path,
                                                                            monkeypatch) -> None:
    """One server, two tenants' products: an API key reads the series of the products it may call (their
    names and feature labels), never the other tenant's; the scrape token reads all."""
    monkeypatch.setenv(METRICS_TOKEN_ENV, "scrape-me-0123456789")
    mine = Served(KINDS["forecast"](tmp_path / "mine"), 1, product_guard(meta, TENANT))
    theirs = Served(KINDS["anomaly"](tmp_path / "theirs"), 1, product_guard(meta, OTHER), label="theirs-secret")
    with TestClient(serving_app([mine, theirs], store=meta)) as client:
        for served, key in ((mine, keys["owner"]), (theirs, keys["other tenant"])):
            assert client.get(f"/products/{served.name}/metadata", headers={"X-API-Key": key}).status_code == 200

        def read(key: str) -> str:
            answer = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 200, answer.text
            return answer.text

        assert f'product="{mine.name}"' in read(keys["owner"]) and "theirs-secret" not in read(keys["owner"])
        assert 'product="theirs-secret"' in read(keys["other tenant"]) and mine.name not in read(keys["other tenant"])
        everything = read("scrape-me-0123456789")
        assert f'product="{mine.name}"' in everything and 'product="theirs-secret"' in everything
        assert client.get("/metrics", headers={"X-API-Key": keys["forged"]}).status_code == 401
