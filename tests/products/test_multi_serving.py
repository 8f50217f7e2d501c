"""Serving: several products on one server, micro-batching, Prometheus metrics and the call audit."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from mofang.integration.bundle import open_bundle
from mofang.products.batching import MicroBatcher
from mofang.products.multi import Served, serving_app
from mofang.products.server import running_app
from mofang.security.audit import AuditLog
from mofang.security.authz import product_guard
from tests.products.tiny_orders import ORDER_ID, TARGET, TENANT, churn_frame


def _bundle(meta):
    version = meta.product_version(ORDER_ID)
    return open_bundle(version.bundle_path, TENANT, meta)


def test_two_products_are_mounted_under_their_names_with_one_metrics_endpoint(churn_meta, churn_keys) -> None:
    bundle = _bundle(churn_meta)
    guard = product_guard(churn_meta, TENANT)
    app = serving_app([Served(bundle, 1, guard), Served(_bundle(churn_meta), 1, guard, label="churn-copy")],
                      store=churn_meta)
    rows = churn_frame(40, seed=3).drop(columns=[TARGET]).to_dict(orient="records")
    analyst, intruder = {"X-API-Key": churn_keys["acme_analyst"]}, {"X-API-Key": churn_keys["beta_owner"]}
    with running_app(app) as url:
        assert httpx.get(f"{url}/health").json() == {"status": "ok"}  # liveness only: names no product
        listing = httpx.get(f"{url}/products", headers=analyst).json()["products"]
        assert [p["path"] for p in listing] == ["/products/churn-mini/", "/products/churn-copy/"]
        assert httpx.get(f"{url}/products", headers=intruder).status_code == 404
        a = httpx.post(f"{url}/products/churn-mini/predict", json={"rows": rows}, headers=analyst)
        b = httpx.post(f"{url}/products/churn-copy/predict", json={"rows": rows[:5]}, headers=analyst)
        assert a.status_code == b.status_code == 200, a.text
        assert a.json()["predictions"][:5] == b.json()["predictions"]
        refused = httpx.post(f"{url}/products/churn-mini/predict", json={"rows": rows}, headers=intruder)
        assert refused.status_code == 404
        assert httpx.post(f"{url}/products/churn-mini/predict", json={"rows": [{"usage": "lots"}]},
                          headers=analyst).status_code == 422
        assert httpx.post(f"{url}/predict", json={"rows": rows}).status_code == 404  # no root product
        assert httpx.get(f"{url}/metrics").status_code == 401
        metrics = httpx.get(f"{url}/metrics", headers=analyst).text
    assert 'mofang_requests_total{endpoint="predict",product="churn-mini",status="200",version="1"} 1.0' in metrics
    assert 'product="churn-copy",status="200"' in metrics
    assert 'mofang_requests_total{endpoint="predict",product="churn-mini",status="422",version="1"} 1.0' in metrics
    assert 'mofang_rows_total{product="churn-mini"} 40.0' in metrics
    assert 'mofang_request_latency_seconds_count{endpoint="predict",product="churn-mini"}' in metrics
    served = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                 if line.startswith('mofang_predictions_total{class="') and 'product="churn-mini"' in line)
    assert served == 40  # the prediction distribution counts every row by class
    # the call audit: one event per caller, product and minute, written when the server stopped
    called = [e for e in AuditLog(churn_meta).events(action="product.called") if e["object"] == "churn-copy"]
    assert [(e["actor"], e["details"]["requests"], e["details"]["rows"]) for e in called] == [("acme_analyst", 1, 5)]


def test_a_single_product_keeps_its_root_routes(churn_meta) -> None:
    app = serving_app([Served(_bundle(churn_meta), 1)], store=churn_meta)
    rows = churn_frame(3, seed=4).drop(columns=[TARGET]).to_dict(orient="records")
    with running_app(app) as url:
        assert httpx.post(f"{url}/predict", json={"rows": rows}).status_code == 200
        assert "mofang_batch_rows_bucket" in httpx.get(f"{url}/metrics").text
        assert httpx.get(f"{url}/docs").status_code == 200


def test_concurrent_requests_are_answered_by_one_model_call() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def predict(records):
        calls.append(len(records))
        gate.wait(5)  # the first call holds the model while the others queue up
        return {"predictions": [r["x"] * 2 for r in records], "model": "m"}

    batcher = MicroBatcher(predict)

    async def scenario():
        first = asyncio.create_task(batcher.submit([{"x": 0}]))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(batcher.submit([{"x": i}, {"x": -i}])) for i in range(1, 9)]
        await asyncio.sleep(0.05)
        gate.set()
        return await first, await asyncio.gather(*rest)

    first, rest = asyncio.run(scenario())
    assert calls == [1, 16]  # eight requests of two rows in one call
    assert first == {"predictions": [0], "model": "m"}
    assert [r["predictions"] for r in rest] == [[2 * i, -2 * i] for i in range(1, 9)]


def test_a_request_that_breaks_the_batch_fails_alone() -> None:
    def predict(records):
        time.sleep(0.02)
        if any(r["x"] == "bad" for r in records):
            raise ValueError("cannot score 'bad'")
        return {"predictions": [r["x"] for r in records]}

    batcher = MicroBatcher(predict, max_wait_ms=20)

    async def scenario():
        return await asyncio.gather(*(batcher.submit([{"x": x}]) for x in (1, "bad", 3)), return_exceptions=True)

    good, bad, other = asyncio.run(scenario())
    assert good == {"predictions": [1]} and other == {"predictions": [3]}
    assert isinstance(bad, ValueError)


def test_served_answers_match_unbatched_answers_under_load(churn_meta) -> None:
    bundle = _bundle(churn_meta)
    rows = churn_frame(64, seed=8).drop(columns=[TARGET]).to_dict(orient="records")
    expected = bundle.predict_records(rows)["predictions"]
    with running_app(serving_app([Served(bundle, 1)], store=churn_meta)) as url, httpx.Client() as client, \
            ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda r: client.post(f"{url}/predict", json={"rows": [r]}).json(), rows))
        metrics = client.get(f"{url}/metrics").text
    assert [a["predictions"][0] for a in answers] == expected
    count = next(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                 if line.startswith('mofang_batch_rows_count{product="churn-mini"}'))
    assert 1 <= count <= 64  # (how far 16 clients coalesce depends on the machine: bench/serving.py measures it)


def _good_body() -> dict:
    return {"rows": churn_frame(2, seed=5).drop(columns=[TARGET]).to_dict(orient="records")}


@pytest.mark.parametrize(("case", "expected"), [
    ("no rows", (["body", "rows"], "too_short")),
    ("a field beside rows", (["body", "extra"], "extra_forbidden")),
    ("a misspelt field", (["body", "rows", 1, "usgae"], "extra_forbidden")),
    ("an unreadable number", (["body", "rows", 0, "usage"], "value_error")),
    ("a list for a value", (["body", "rows", 0, "plan"], "value_error")),
])
def test_bad_predict_bodies_are_refused(churn_meta, case: str, expected: tuple[list, str]) -> None:
    """Each body has one defect beside a good one: the 422 names that defect (where and what), not another."""
    good = _good_body()
    rows = good["rows"]
    body = {"no rows": {"rows": []}, "a field beside rows": {**good, "extra": 1},
            "a misspelt field": {"rows": [rows[0], {**rows[1], "usgae": 3.0}]},
            "an unreadable number": {"rows": [{**rows[0], "usage": "lots"}, rows[1]]},
            "a list for a value": {"rows": [{**rows[0], "plan": ["basic"]}, rows[1]]}}[case]
    with running_app(serving_app([Served(_bundle(churn_meta), 1)], store=churn_meta)) as url:
        assert httpx.post(f"{url}/predict", json=good).status_code == 200  # the body it was made from is good
        refused = httpx.post(f"{url}/predict", json=body)
    assert refused.status_code == 422, refused.text
    assert [(e["loc"], e["type"]) for e in refused.json()["detail"]] == [expected], refused.text
