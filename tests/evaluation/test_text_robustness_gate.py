"""The acceptance gate's robustness check for text models: the worst perturbation's drop against the order."""

from __future__ import annotations

import pytest

from mofang.evaluation.gates import check_gate
from mofang.evaluation.scoring import text_robustness
from mofang.models.registry import get_trainer
from mofang.orders.schema import Order
from tests.models.text_fixtures import FEATURES, dataset, splits


def _order(max_drop: float) -> Order:
    return Order.model_validate({"id": "o", "tenant": "t", "task": "text-classification", "data": [{"path": "x"}],
                                 "target": "类别", "acceptance": {"max_robustness_drop": max_drop}})


@pytest.fixture(scope="module")
def report():
    train, valid, test = splits(500, seed=11)
    candidate, _ = get_trainer("text-classification", "tfidf-linear").fit(train, valid, dataset(train), 1.0)
    return text_robustness(candidate, test, "类别", FEATURES, "roc_auc", seed=3)


def test_report_scores_every_perturbation_with_a_label_metric(report) -> None:
    assert report["metric"] == "f1_macro"  # roc_auc needs probabilities: the suite scores labels
    names = [row["perturbation"] for row in report["rows"]]
    assert names == ["typos", "homophones", "traditional", "punctuation", "whitespace", "truncation"]
    assert report["clean_score"] > 0.85 and report["worst"]["drop"] == max(r["drop"] for r in report["rows"])


def test_gate_checks_the_worst_drop(report) -> None:
    worst = report["worst"]
    strict = check_gate(_order(max(worst["drop"] - 0.01, 0.0)), {}, 1.0, 1.0, report)
    assert not strict["passed"]
    message = strict["checks"][-1]["message"]
    assert "does not meet" in message and f"worst perturbation: {worst['perturbation']}" in message
    assert check_gate(_order(worst["drop"] + 0.01), {}, 1.0, 1.0, report)["passed"]
    unmeasured = check_gate(_order(0.5), {}, 1.0, 1.0, None)
    assert not unmeasured["passed"] and "could not be measured" in unmeasured["checks"][-1]["message"]
