"""Drift: served traffic from a shifted copy of the data raises the alarm; unshifted traffic does not."""

from __future__ import annotations

import logging

import httpx
import numpy as np

from mofang.core.metrics import drift
from mofang.integration.bundle import open_bundle
from mofang.integration.reference import build_reference
from mofang.products.monitoring import DriftMonitor
from mofang.products.multi import Served, serving_app
from mofang.products.server import running_app
from tests.products.tiny_orders import ORDER_ID, TARGET, TENANT, churn_frame


def _serve_and_send(meta, frame) -> tuple[dict, str]:
    version = meta.product_version(ORDER_ID)
    bundle = open_bundle(version.bundle_path, TENANT, meta)
    rows = frame.drop(columns=[TARGET]).to_dict(orient="records")
    with running_app(serving_app([Served(bundle, version.version)], store=meta)) as url, httpx.Client() as client:
        for i in range(0, len(rows), 25):
            assert client.post(f"{url}/predict", json={"rows": rows[i:i + 25]}).status_code == 200
        report = client.get(f"{url}/drift").json()
        metrics = client.get(f"{url}/metrics").text
    return report, metrics


def test_unshifted_traffic_raises_no_alarm(churn_meta) -> None:
    report, metrics = _serve_and_send(churn_meta, churn_frame(400, seed=21))
    assert report["thresholds"]["window_rows"] == 200  # from the order's monitoring: section
    assert report["windows_completed"] == 2 and not report["alarm"], report
    window = report["last_window"]
    assert set(window["features"]) == {"usage", "tenure", "plan"}
    assert all(f["psi"] < 0.25 for f in window["features"].values())
    assert 'mofang_drift_alarm{product="churn-mini"} 0.0' in metrics


def test_shifted_traffic_raises_the_alarm(churn_meta, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="mofang.products.monitoring"):
        report, metrics = _serve_and_send(churn_meta, churn_frame(400, seed=22, shift=True))
    assert report["alarm"], report
    reasons = " ".join(report["last_window"]["reasons"])
    assert "usage: KS" in reasons and "usage: PSI" in reasons and "plan: PSI" in reasons
    assert "tenure" not in reasons  # the feature that did not move stays quiet
    assert "predictions: PSI" in reasons  # more usage, fewer basic plans: fewer churners predicted
    assert 'mofang_drift_alarm{product="churn-mini"} 1.0' in metrics
    assert 'mofang_drift_psi{feature="usage",product="churn-mini"}' in metrics
    assert any("drift alarm: product churn-mini" in r.getMessage() for r in caplog.records)


def test_text_drift_is_seen_in_hashed_character_bigrams() -> None:
    rng = np.random.default_rng(0)
    words = ["快递", "物流", "包装", "质量", "客服", "退货", "价格", "发货"]
    other = ["电池", "屏幕", "充电", "系统", "相机", "信号", "内存", "外观"]

    def texts(vocabulary, n):
        return ["".join(rng.choice(vocabulary, 6)) + "很好" for _ in range(n)]

    features = [{"name": "review", "kind": "text"}]
    import pandas as pd

    reference = build_reference(pd.DataFrame({"review": texts(words, 400)}), features, ["pos"] * 400,
                                task="text-classification", classes=["pos", "neg"],
                                thresholds={"window_rows": 100})
    same, moved = (DriftMonitor(reference, features, product="r") for _ in range(2))
    same.observe([{"review": t} for t in texts(words, 100)], ["pos"] * 100)
    moved.observe([{"review": t} for t in texts(other, 100)], ["pos"] * 100)
    assert not same.last["alarm"] and same.last["features"]["review"]["psi"] < 0.1
    assert moved.last["alarm"] and moved.last["features"]["review"]["psi"] > 1


def test_psi_and_ks_statistics() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(0, 1, 5000)
    profile = drift.numeric_profile(base)
    assert drift.psi(profile["probs"], drift.histogram(profile, rng.normal(0, 1, 2000))) < 0.02
    assert drift.psi(profile["probs"], drift.histogram(profile, rng.normal(1, 1, 2000))) > 0.25
    assert drift.ks_statistic(profile["quantiles"], rng.normal(0, 1, 2000)) < 0.06
    assert 0.3 < drift.ks_statistic(profile["quantiles"], rng.normal(1, 1, 2000)) < 0.5  # Φ(0.5) − Φ(−0.5) ≈ 0.38
    counts = drift.numeric_profile(rng.integers(0, 4, 3000).astype(float))  # a discrete feature: no false KS
    assert drift.ks_statistic(counts["quantiles"], rng.integers(0, 4, 500).astype(float)) < 0.08
    with_gaps = drift.histogram(profile, [0.0, float("nan")])
    assert with_gaps[-1] == 0.5  # the missing bin
    assert drift.ks_statistic([], [1.0]) is None
