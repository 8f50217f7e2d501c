"""One product contract: a forecast and an anomaly product, served like every other kind on a real server,
answer /health, /metadata, /metrics (counting their calls), /drift and /feedback, audit their calls and refuse
a request without an API key."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mofang.integration.bundle import Bundle, load_bundle
from mofang.products.feedback import feedback_rows
from mofang.products.multi import Served, serving_app
from mofang.products.server import running_app
from mofang.security.audit import AuditLog
from mofang.security.authz import product_guard
from mofang.security.identity import create_api_key, create_tenant
from tests.tasks.anomaly.models.streams import SENSORS, sensor_stream
from tests.tasks.forecast.models.fixtures import panel

TENANT = "plant-7"


@dataclass
class Kind:
    """A product kind under test: its bundle, its own route, a good and a failing call, good and bad feedback."""

    bundle: Bundle
    route: str
    good: dict[str, Any]
    failing: tuple[dict[str, Any], int]
    feedback: list[dict[str, Any]]
    bad_feedback: tuple[dict[str, Any], str]
    rows_per_call: int


def _write_bundle(folder: Path, model: Any, schema: dict[str, Any], meta: dict[str, Any]) -> Bundle:
    folder.mkdir(parents=True)
    model.save(folder / "model.joblib")
    (folder / "schema.json").write_text(json.dumps(schema), "utf-8")
    (folder / "metadata.json").write_text(json.dumps(meta, default=str), "utf-8")
    return load_bundle(folder)


def _base_meta(name: str, task: str, target: str | None, family: str) -> dict[str, Any]:
    return {"product": name, "tenant": TENANT, "order_id": name, "job_id": 1, "task": task, "target": target,
            "family": family, "candidate": family, "metrics": {}, "verdict": "accepted"}


def forecast_kind(folder: Path) -> Kind:
    """A seasonal-naive forecast of three daily series (`sales`), horizon 7, packaged as the workshop does."""
    from mofang.tasks.forecast.models import ConformalIntervals, ForecastModel, backtest, make_forecaster
    from mofang.tasks.forecast.product import forecast_schema

    history = panel(series=3, days=70)
    result = backtest(lambda: make_forecaster("seasonal_naive", "D", 7), history, 7, 2, 7, [0.1, 0.9])
    model = ForecastModel("seasonal_naive", "D", 7, 7, [0.1, 0.9]).fit(
        history, ConformalIntervals.fit(result.residuals, 7, [0.1, 0.9]))
    dataset = {"target": "sales", "forecast": {"series": "shop", "series_named": True}}
    meta = {**_base_meta("shop-demand", "time-series-forecast", "sales", "seasonal_naive"),
            "forecast": {"series": 3, "max_horizon": 7, "frequency": "D"}}
    bundle = _write_bundle(folder, model, forecast_schema(dataset, model), meta)
    return Kind(bundle, "/forecast", {"series_id": "s1", "horizon": 3}, ({"series_id": "s9", "horizon": 3}, 404),
                [{"series_id": "s1", "time": "2024-03-11", "sales": 81.5},
                 {"series_id": "s2", "time": "2024-03-11T00:00:00", "sales": 120}],
                ({"series_id": "s9", "time": "2024-03-11", "sales": 1.0}, "unknown series id 's9'"), 1)


def anomaly_kind(folder: Path) -> Kind:
    """A robust-z detector over three sensors (window 8), calibrated on normal readings."""
    from mofang.integration.station import input_schema
    from mofang.tasks.anomaly.models import DETECTORS, AnomalyModel
    from mofang.tasks.anomaly.product import anomaly_meta

    stream = sensor_stream(n=900, events=3, seed=2)
    normal = stream[stream["anomaly"] == 0]
    model = AnomalyModel("robust-z", DETECTORS["robust-z"](seed=0), list(SENSORS), 8, "datetime", smooth=4)
    model.detector_.fit(model.matrix(normal))
    model.calibrate(model.scores(normal), 0.01)
    winner = {"model_path": str(model.save(folder.parent / "detector.joblib"))}
    info = {"sensors": list(SENSORS), "window": 8, "time_column": "datetime", "label": "anomaly",
            "false_alarm_rate": 0.01}
    dataset = {"task": "anomaly-detection", "target": "anomaly", "id_column": None, "classes": None,
               "features": [{"name": s, "kind": "numeric"} for s in SENSORS],
               "dropped": [{"name": "datetime", "reason": "the order's time column"}], "anomaly": info}
    meta = {**_base_meta("pump-watch", "anomaly-detection", "anomaly", "robust-z"),
            "anomaly": anomaly_meta(dataset, winner)}
    bundle = _write_bundle(folder, model, input_schema(dataset), meta)
    readings = stream.iloc[:40].drop(columns=["anomaly"]).to_dict(orient="records")
    return Kind(bundle, "/score", {"rows": readings}, ({"rows": [{**readings[0], "datetime": "soon"}]}, 422),
                [{**readings[5], "anomaly": 0}, {**readings[6], "anomaly": True}],
                ({**readings[7], "anomaly": "maybe"}, "must be 1 (anomalous) or 0 (normal)"), 40)


KINDS = {"forecast": forecast_kind, "anomaly": anomaly_kind}


def _count(metrics: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent); labels are matched in any order."""
    for line in metrics.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
        if all(found.get(k) == v for k, v in labels.items()) and len(found) == len(labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_answers_the_product_contract(kind: str, meta, tmp_path: Path) -> None:
    case = KINDS[kind](tmp_path / "bundle")
    product = case.bundle.metadata["product"]
    create_tenant(meta, TENANT)
    _, key = create_api_key(meta, tenant=TENANT, user="ann", role="owner")
    signed = {"Authorization": f"Bearer {key}"}
    app = serving_app([Served(case.bundle, 1, product_guard(meta, TENANT))], store=meta)
    with running_app(app) as url:
        # auth: everything but /health (which names nothing) needs a key, the kind's own route as much as the
        # shared ones (every route of every kind: test_served_routes)
        assert httpx.get(f"{url}/health").json() == {"status": "ok"}
        for method, path, body in (("POST", case.route, case.good), ("GET", "/metadata", None),
                                   ("GET", "/drift", None), ("POST", "/feedback", {"rows": case.feedback}),
                                   ("GET", "/metrics", None), ("GET", "/openapi.json", None)):
            refused = httpx.request(method, f"{url}{path}", json=body)
            assert refused.status_code == 401 and "API key" in refused.text, (path, refused.text)
            wrong = httpx.request(method, f"{url}{path}", json=body, headers={"X-API-Key": "mf_not-a-key"})
            assert wrong.status_code == 401, (path, wrong.text)
        # the kind's own route, answered as before and counted
        for _ in range(2):
            answered = httpx.post(f"{url}{case.route}", json=case.good, headers=signed)
            assert answered.status_code == 200 and answered.json()["product"] == product, answered.text
        failing, status = case.failing
        assert httpx.post(f"{url}{case.route}", json=failing, headers=signed).status_code == status
        endpoint = case.route.strip("/")
        metrics = httpx.get(f"{url}/metrics", headers=signed).text
        assert _count(metrics, "mofang_requests_total", endpoint=endpoint, product=product, status="200",
                      version="1") == 2.0, metrics[:2000]
        assert _count(metrics, "mofang_requests_total", endpoint=endpoint, product=product, status=str(status),
                      version="1") == 1.0
        assert _count(metrics, "mofang_rows_total", product=product) == 2 * case.rows_per_call
        assert _count(metrics, "mofang_requests_total", endpoint=endpoint, product=product, status="401",
                      version="1") == 2.0  # the refused calls, counted like any other
        assert _count(metrics, "mofang_request_latency_seconds_count", endpoint=endpoint, product=product) == 5.0
        if kind == "anomaly":  # scored readings counted as anomalous or normal
            classes = [_count(metrics, "mofang_predictions_total", product=product, **{"class": c})
                       for c in ("anomalous", "normal")]
            assert sum(classes) == 2 * case.rows_per_call
        # the shared routes
        described = httpx.get(f"{url}/metadata", headers=signed).json()
        assert described["version"] == 1 and described["schema"]["task"] == case.bundle.schema["task"]
        assert described["product"] == product and described["requests"] == 2
        drift = httpx.get(f"{url}/drift", headers=signed)
        assert drift.status_code == 200 and drift.json()["monitored"] is False, drift.text
        assert drift.json()["product"] == product and len(drift.json()["reason"]) > 40
        recorded = httpx.post(f"{url}/feedback", json={"rows": case.feedback}, headers=signed)
        assert recorded.status_code == 200 and recorded.json()["recorded"] == len(case.feedback), recorded.text
        bad, needle = case.bad_feedback
        rejected = httpx.post(f"{url}/feedback", json={"rows": [bad]}, headers=signed)
        assert rejected.status_code == 422 and needle in rejected.text, rejected.text
        metrics = httpx.get(f"{url}/metrics", headers=signed).text
        assert _count(metrics, "mofang_requests_total", endpoint="feedback", product=product, status="200",
                      version="1") == 1.0
        assert _count(metrics, "mofang_requests_total", endpoint="drift", product=product, status="200",
                      version="1") == 1.0
    stored = [r.row for r in feedback_rows(meta, TENANT, product)]
    assert len(stored) == len(case.feedback) and all(r.version == 1 and r.caller == "ann"
                                                     for r in feedback_rows(meta, TENANT, product))
    if kind == "forecast":  # actuals stored one way: the series id, an ISO time and a number
        assert stored == [{"series_id": "s1", "time": "2024-03-11T00:00:00", "sales": 81.5},
                          {"series_id": "s2", "time": "2024-03-11T00:00:00", "sales": 120.0}]
    else:  # readings as sent, the label as 1 or 0
        assert [r["anomaly"] for r in stored] == [0, 1] and stored[0]["pressure"] == case.feedback[0]["pressure"]
    # the call audit: one event per caller, endpoint and minute, written when the server stopped
    called = {e["details"]["endpoint"]: e for e in AuditLog(meta).events(action="product.called")
              if e["object"] == product}
    own = called[endpoint]
    assert own["actor"] == "ann" and own["tenant"] == TENANT
    assert (own["details"]["requests"], own["details"]["errors"]) == (3, 1)
    assert (called["feedback"]["details"]["requests"], called["feedback"]["details"]["errors"]) == (2, 1)
