"""A served forecast product's known-future covariates (POST /forecast): a missing (null), non-finite (NaN,
±Infinity, -1e999), out-of-range, boolean or text value at any step is a 422 whose JSON body names the covariate
and the step, on a real server that keeps answering; it is never filled in from a season earlier, read as 1 or
answered with a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mofang.integration.bundle import Bundle
from mofang.products.multi import Served, serving_app
from mofang.products.server import running_app
from tests.products.test_product_contract import _base_meta, _write_bundle
from tests.tasks.forecast.models.fixtures import panel

BAD = {"NaN": "NaN", "Infinity": "Infinity", "-1e999": "-1e999", "null": "null", "true": "true", "text": '"x"',
       "text-NaN": '"NaN"', "1e300": "1e300", "10**400": "1" + "0" * 400}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A LightGBM forecast of three daily series that reads the known covariate `promo`, horizon 7."""
    from mofang.tasks.forecast.models import ConformalIntervals, ForecastModel, backtest, make_forecaster
    from mofang.tasks.forecast.product import forecast_schema

    history = panel(series=3, days=70)
    params = {"known": ["promo"], "n_estimators": 40}
    result = backtest(lambda: make_forecaster("lightgbm", "D", 7, **params), history, 7, 2, 7, [0.1, 0.9])
    model = ForecastModel("lightgbm", "D", 7, 7, [0.1, 0.9], params).fit(
        history, ConformalIntervals.fit(result.residuals, 7, [0.1, 0.9]))
    schema = forecast_schema({"target": "sales", "forecast": {"series": "shop", "series_named": True}}, model)
    assert schema["known_covariates"] == ["promo"]
    folder = tmp_path_factory.mktemp("forecast") / "bundle"
    return _write_bundle(folder, model, schema, _base_meta("shop-demand", "time-series-forecast", "sales", "lightgbm"))


def strict_json(text: str) -> Any:
    """JSON as a strict client reads it: NaN or Infinity in a body is an error."""
    def refuse(constant: str) -> None:
        raise ValueError(f"the body holds {constant}")

    return json.loads(text, parse_constant=refuse)


def test_bad_covariate_values_are_422s_naming_the_covariate_and_step(bundle: Bundle) -> None:
    with running_app(serving_app([Served(bundle, 1)])) as url, httpx.Client(base_url=url, timeout=30) as client:
        def ask(promo: str) -> httpx.Response:
            body = '{"series_id": "s1", "horizon": 3, "known_covariates": {"promo": [1, ' + promo + ', 0]}}'
            return client.post("/forecast", content=body, headers={"content-type": "application/json"})

        for name, raw in BAD.items():
            answer = ask(raw)
            assert answer.status_code == 422, (name, answer.text)
            error = strict_json(answer.text)["detail"][0]
            assert error["loc"] == ["body", "known_covariates", "promo", 1], (name, error)  # the covariate, step 2
            assert error["msg"].startswith("Value error, "), (name, error)
        assert "NaN is not a number" in ask("NaN").text and "not null" in ask("null").text
        assert "-inf is not a finite number" in ask("-1e999").text and "not True" in ask("true").text
        calm, promoted = ask("0").json(), ask("1").json()  # the same connection still answers
        assert [p["mean"] for p in calm["forecast"]] != [p["mean"] for p in promoted["forecast"]]
        short = client.post("/forecast", json={"series_id": "s1", "horizon": 3, "known_covariates": {"promo": [1]}})
        assert short.status_code == 422 and "covariate 'promo' has 1 values; the horizon needs 3" in short.text


def test_the_openapi_document_types_each_step_as_a_bounded_number(bundle: Bundle) -> None:
    from mofang.products.serving import MAX_NUMBER, create_app

    document = create_app(bundle).openapi()
    request = document["components"]["schemas"]["ForecastRequest"]["properties"]["known_covariates"]
    step = request["anyOf"][0]["additionalProperties"]["items"]
    assert step["type"] == "number" and step["maximum"] == MAX_NUMBER and step["minimum"] == -MAX_NUMBER
