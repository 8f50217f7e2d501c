"""The evaluation center station: leaderboard on test, the gate, the HTML report and the outcome."""

from __future__ import annotations

import re
from pathlib import Path

from mofang.evaluation import EvaluationCenter
from tests.models.tabular_fixtures import classification_data, make_order, regression_data, run_station


def _evaluate(ctx):
    run_station(EvaluationCenter(), ctx)
    return ctx.load("evaluation")


def test_accepted_binary_job_writes_a_full_report(modelled):
    order = make_order(metrics={"roc_auc": ">= 0.7"}, p95_latency_ms=10_000, max_model_mb=100)
    ctx = modelled(order, classification_data())
    evaluation = _evaluate(ctx)
    assert evaluation["verdict"] == "accepted" and evaluation["primary_metric"] == "roc_auc"
    assert {r["family"] for r in evaluation["leaderboard"]} >= {"dummy", "linear", "lightgbm"}
    assert all("test_metrics" in r for r in evaluation["leaderboard"])
    assert [c["name"] for c in evaluation["gate"]["checks"]] == ["roc_auc", "p95_latency_ms", "max_model_mb"]
    report = Path(evaluation["report_path"])
    html = report.read_text(encoding="utf-8")
    assert "ACCEPTED" in html and "城市" in html and "PII: phone numbers" in html
    assert len(re.findall(r'src="data:image/png;base64,', html)) >= 4
    assert {"roc_curve.png", "pr_curve.png", "confusion_matrix.png"} <= {p.name for p in report.parent.iterdir()}
    assert "picked" in html  # the model workshop's choice and reason
    outcome = ctx.outcome()
    assert outcome["verdict"] == "accepted" and outcome["failed_checks"] == []
    assert outcome["report"] == str(report) and "roc_auc" in outcome["metrics"]


def test_rejected_job_is_still_reported_with_the_failed_check(modelled):
    order = make_order(metrics={"accuracy": ">= 0.999"}, p95_latency_ms=0.001)
    ctx = modelled(order, classification_data(n=500, n_classes=3))
    evaluation = _evaluate(ctx)
    assert evaluation["verdict"] == "rejected"
    failed = ctx.outcome()["failed_checks"]
    assert failed == ["accuracy", "p95_latency_ms"]
    html = Path(evaluation["report_path"]).read_text(encoding="utf-8")
    assert "REJECTED" in html and "Failed checks" in html
    assert "accuracy" in html and "does not meet &gt;= 0.999" in html
    assert len(re.findall(r"data:image/png;base64,", html)) >= 4


def test_regression_report(modelled):
    ctx = modelled(make_order("tabular-regression", "price", metrics={"r2": ">= 0.5"}), regression_data(n=600))
    evaluation = _evaluate(ctx)
    assert evaluation["verdict"] == "accepted" and evaluation["metrics"]["r2"] >= 0.5
    assert {"predicted_vs_actual", "residuals", "feature_importance"} <= set(evaluation["plots"])
