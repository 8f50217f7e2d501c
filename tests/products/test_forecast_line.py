"""A store-demand forecast order (semicolon-separated export, day-first dates, gaps and duplicate rows) runs
down the whole line with `mofang run`, is delivered, and answers `POST /forecast` for a series and horizon."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mofang.cli import app

pytestmark = pytest.mark.slow  # a real order down the whole line (about a minute on 2 cores)

ORDER = """\
id: shop-demand
tenant: demo-retail
task: time-series-forecast
data:
  - path: demand.csv
time_column: 日期
target: sales
forecast:
  horizon: 7
  series_column: shop
  known_covariates: [promo]
  backtest_windows: 2
acceptance:
  metrics:
    mase: "<= 1.0"
budget:
  minutes: 1
"""


def demand(seed: int = 0) -> pd.DataFrame:
    """5 shops × 84 days with a weekly cycle, a trend and promotions; some days missing, some exported twice."""
    rng = np.random.default_rng(seed)
    rows = []
    days = pd.date_range("2024-01-01", periods=84, freq="D")
    for shop in range(5):
        level = 100 + 40 * shop
        for i, day in enumerate(days):
            promo = int(rng.random() < 0.1)
            sales = level * (1 + 0.3 * np.sin(2 * np.pi * day.dayofweek / 7)) + 0.5 * i + 30 * promo
            rows.append({"shop": f"S{shop}", "日期": day.strftime("%d/%m/%Y"),
                         "sales": round(sales + rng.normal(0, 3), 2), "promo": promo, "note": "ok"})
    frame = pd.DataFrame(rows)
    frame = frame.drop(index=rng.choice(len(frame), 12, replace=False))  # gaps
    return pd.concat([frame, frame.sample(8, random_state=seed)], ignore_index=True)  # exported twice


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    from mofang.store import MetaStore

    home, folder = tmp_path_factory.mktemp("home"), tmp_path_factory.mktemp("order")
    old = os.environ.get("MOFANG_HOME")
    os.environ["MOFANG_HOME"] = str(home)
    demand().to_csv(folder / "demand.csv", sep=";", index=False)
    (folder / "order.yaml").write_text(ORDER, encoding="utf-8")
    try:
        result = CliRunner().invoke(app, ["run", str(folder / "order.yaml")])
        assert result.exit_code == 0, result.output
        meta = MetaStore()
        yield meta, meta.product_version("shop-demand")
        meta.dispose()
    finally:
        if old is None:
            os.environ.pop("MOFANG_HOME", None)
        else:
            os.environ["MOFANG_HOME"] = old


def test_forecast_order_is_delivered_with_backtests_and_a_forecast_report(delivered) -> None:
    from pathlib import Path

    from mofang.security.vault import open_vault

    meta, version = delivered
    job = meta.job(version.job_id)
    assert job.outcome["verdict"] == "accepted", job.outcome
    assert version.metrics["mase"] <= 1.0 and version.metrics["smape"] is not None, version.metrics
    assert version.metrics["wql"] is not None
    vault = open_vault(meta, Path(os.environ["MOFANG_HOME"]))
    html = vault.read("demo-retail", Path(version.bundle_path) / "report.html").decode("utf-8")
    assert "Backtest (rolling windows" in html and "seasonal_naive" in html
    assert html.count("data:image/png") >= 4  # a forecast plot per shown series


def test_post_forecast_answers_a_series_with_intervals(delivered) -> None:
    from mofang.integration.bundle import open_bundle
    from mofang.products.serving import create_app

    meta, version = delivered
    bundle = open_bundle(version.bundle_path, version.product.tenant_id, meta)
    http = TestClient(create_app(bundle, version=version.version))
    answer = http.post("/forecast", json={"series_id": "S2", "horizon": 5})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["series_id"] == "S2" and len(body["forecast"]) == 5
    first = body["forecast"][0]
    assert pd.Timestamp(first["time"]) == pd.Timestamp("2024-03-25")  # the day after the latest data
    assert first["q0.1"] <= first["mean"] <= first["q0.9"] and 150 < first["mean"] < 300, first
    too_far = http.post("/forecast", json={"series_id": "S2", "horizon": 8})
    assert too_far.status_code == 422 and "trained maximum 7" in too_far.text
    unknown = http.post("/forecast", json={"series_id": "S9", "horizon": 3})
    assert unknown.status_code == 404 and "unknown series id 'S9'" in unknown.text
    assert http.get("/metadata").json()["forecast"]["max_horizon"] == 7
