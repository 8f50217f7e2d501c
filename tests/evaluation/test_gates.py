"""check_gate: metric criteria, latency and size limits, and unmeasurable values."""

from __future__ import annotations

from mofang.evaluation import check_gate
from tests.models.tabular_fixtures import make_order


def test_all_checks_pass():
    order = make_order(metrics={"roc_auc": ">= 0.8", "log_loss": "<= 0.5"}, p95_latency_ms=50, max_model_mb=10)
    gate = check_gate(order, {"roc_auc": 0.85, "log_loss": 0.3}, size_mb=1.2, p95_ms=4.0)
    assert gate["passed"] and [c["name"] for c in gate["checks"]] == [
        "roc_auc", "log_loss", "p95_latency_ms", "max_model_mb"]


def test_failing_metric_says_what_failed():
    gate = check_gate(make_order(metrics={"roc_auc": ">= 0.9"}), {"roc_auc": 0.85}, 1.0, 1.0)
    (check,) = gate["checks"]
    assert not gate["passed"] and not check["passed"]
    assert check["criterion"] == ">= 0.9" and check["observed"] == 0.85
    assert check["message"] == "roc_auc 0.85 does not meet >= 0.9"


def test_latency_and_size_limits():
    order = make_order(p95_latency_ms=5, max_model_mb=2)
    gate = check_gate(order, {}, size_mb=3.5, p95_ms=7.25)
    assert not gate["passed"]
    messages = {c["name"]: c["message"] for c in gate["checks"] if not c["passed"]}
    assert messages == {"p95_latency_ms": "p95_latency_ms 7.25 ms does not meet <= 5 ms",
                        "max_model_mb": "max_model_mb 3.5 MB does not meet <= 2 MB"}
    assert check_gate(order, {}, size_mb=1.0, p95_ms=4.0)["passed"]


def test_unmeasurable_metric_fails_and_no_criteria_passes():
    gate = check_gate(make_order(metrics={"roc_auc": ">= 0.5"}), {"roc_auc": None}, 1.0, 1.0)
    assert not gate["passed"] and "could not be measured" in gate["checks"][0]["message"]
    assert check_gate(make_order(), {}, 1.0, 1.0) == {"passed": True, "checks": []}
