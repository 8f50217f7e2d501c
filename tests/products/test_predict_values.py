"""POST /predict is typed by the training schema on a real server: NaN, infinities, numbers out of range, a
boolean for a number and oversized strings are 422s with a JSON body the client can parse, on a connection the
server keeps; a missing field follows the product's declared policy."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from mofang.integration.bundle import Bundle
from mofang.products.server import running_app
from mofang.products.serving import MAX_TEXT_CHARS, create_app
from tests.products.test_served_routes import tabular_bundle

ROW = {"x0": 1.5, "x1": -0.2, "x2": 0.3, "x3": 2, "x4": 0, "城市": "上海", "channel": "app", "signup": "2021-03-04",
       "vip": True}
MALFORMED = {  # a row's field -> the JSON text sent for it
    "NaN": ("x0", "NaN"), "-1e999": ("x1", "-1e999"), "10**400": ("x2", str(10**400)), "2**70": ("x3", str(2**70)),
    "1e16": ("x4", "1e16"), "true for a number": ("x0", "true"), "Infinity as text": ("x1", '"1e999"'),
    "a 5 MB string": ("城市", json.dumps("长" * 5 * 2**20)), "a 5 MB number": ("x0", json.dumps("9" * 5 * 2**20)),
    "a list": ("channel", "[1, 2]")}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return tabular_bundle(tmp_path_factory.mktemp("bundle"))


def _body(field: str, text: str) -> str:
    row = json.dumps({k: v for k, v in ROW.items() if k != field}, ensure_ascii=False)
    return f'{{"rows": [{row[:-1]}, "{field}": {text}}}]}}'


def test_malformed_values_are_422s_with_a_json_body_on_a_kept_connection(bundle: Bundle) -> None:
    with running_app(create_app(bundle, version=1)) as url, httpx.Client(base_url=url, timeout=60) as client:
        good = client.post("/predict", json={"rows": [ROW]})
        assert good.status_code == 200, good.text
        where = good.extensions["network_stream"].get_extra_info("client_addr")
        for case, (field, text) in MALFORMED.items():
            answer = client.post("/predict", content=_body(field, text).encode(),
                                 headers={"content-type": "application/json"})
            assert answer.status_code == 422, (case, answer.status_code, answer.text[:300])
            detail = answer.json()["detail"]  # parseable, and about the field sent
            assert detail[0]["loc"] == ["body", "rows", 0, field], (case, detail)
            assert len(answer.content) < 2_000, case  # no 5 MB echo
            assert answer.headers.get("connection", "").lower() != "close", case
            assert answer.extensions["network_stream"].get_extra_info("client_addr") == where, case
        text = client.post("/predict", json={"rows": [{**ROW, "channel": "x" * (MAX_TEXT_CHARS + 1)}]})
        assert text.status_code == 422 and "longer than" in text.text
        assert client.post("/predict", json={"rows": [ROW]}).status_code == 200  # still serving


def test_missing_fields_follow_the_declared_policy(bundle: Bundle) -> None:
    partial = {k: v for k, v in ROW.items() if k not in ("x0", "城市")}
    with running_app(create_app(bundle, version=1)) as url:
        assert httpx.post(f"{url}/predict", json={"rows": [partial]}).status_code == 200  # imputed
        assert httpx.get(f"{url}/metadata").json()["missing_fields"] == "impute"
    strict = replace(bundle, schema={**bundle.schema, "missing_fields": "reject"})
    with running_app(create_app(strict, version=1)) as url:
        refused = httpx.post(f"{url}/predict", json={"rows": [partial]})
        assert refused.status_code == 422
        assert {tuple(e["loc"][-1:]) for e in refused.json()["detail"]} == {("x0",), ("城市",)}
        assert httpx.post(f"{url}/predict", json={"rows": [{**ROW, "x0": None}]}).status_code == 422
        assert httpx.post(f"{url}/predict", json={"rows": [ROW]}).status_code == 200
        document = httpx.get(f"{url}/openapi.json").json()
        assert "x0" in document["components"]["schemas"]["Row"]["required"]
        assert httpx.get(f"{url}/metadata").json()["missing_fields"] == "reject"


def test_the_model_reads_an_integer_beyond_a_double_as_missing(bundle: Bundle) -> None:
    """Past the server (the edge, the portal, a batch): no OverflowError, the value is unreadable like 'abc'."""
    huge = bundle.predict_records([{**ROW, "x2": 10**400}, {**ROW, "x2": -(10**400)}])
    assert huge == bundle.predict_records([{**ROW, "x2": None}, {**ROW, "x2": None}])
