"""Tabular robustness: the winner scored on each perturbed copy of the test split, the drop and the worst; the
gate's `max_robustness_drop` on tabular orders."""

from __future__ import annotations

import math

import pytest

from mofang.core.tasks import spec as task_spec
from mofang.evaluation.gates import check_gate
from mofang.evaluation.scoring import score_candidate
from mofang.models.registry import get_trainer
from mofang.tasks.tabular.robustness import tabular_robustness
from tests.models.tabular_fixtures import classification_data, make_order, regression_data


@pytest.fixture(scope="module")
def fitted():
    data = classification_data(n=900, seed=4)
    candidate, _ = get_trainer("tabular-classification", "lightgbm").fit(data["train"], data["valid"],
                                                                           data["dataset"], 1.0)
    return candidate, data


@pytest.fixture(scope="module")
def report(fitted):
    candidate, data = fitted
    return tabular_robustness(candidate, data["test"], "label", data["dataset"]["features"], "roc_auc", seed=3)


def test_every_perturbation_is_scored_against_the_clean_score(fitted, report) -> None:
    candidate, data = fitted
    assert [r["perturbation"] for r in report["rows"]] == ["noise", "missing", "unseen_category", "shift"]
    assert report["metric"] == "roc_auc" and report["skipped"] == {} and report["sample_rows"] == len(data["test"])
    assert report["clean_score"] == pytest.approx(score_candidate(candidate, data["test"], "label")["roc_auc"])
    for row in report["rows"]:
        assert row["drop"] == pytest.approx(report["clean_score"] - row["score"])  # absolute, as for text
        assert row["relative_drop"] == pytest.approx(row["drop"] / report["clean_score"])
        assert 0 < row["changed_share"] <= 1 and row["detail"]
    assert report["worst"] == max(report["rows"], key=lambda r: r["drop"])
    assert set(report["examples"]) == {r["perturbation"] for r in report["rows"]}


def test_deterministic_with_a_seed_and_bounded_in_rows(fitted, report) -> None:
    candidate, data = fitted
    features = data["dataset"]["features"]
    assert tabular_robustness(candidate, data["test"], "label", features, "roc_auc", seed=3) == report
    small = tabular_robustness(candidate, data["test"], "label", features, "roc_auc", seed=3, rows=60)
    assert small["sample_rows"] == 60


def test_a_loss_drops_when_it_grows(fitted) -> None:
    candidate, data = fitted
    loss = tabular_robustness(candidate, data["test"], "label", data["dataset"]["features"], "log_loss", seed=3)
    for row in loss["rows"]:
        assert row["drop"] == pytest.approx(row["score"] - loss["clean_score"])


def test_regression_reads_its_own_metric() -> None:
    data = regression_data(n=500, seed=2)
    candidate, _ = get_trainer("tabular-regression", "linear").fit(data["train"], data["valid"], data["dataset"], 1.0)
    measured = tabular_robustness(candidate, data["test"], "price", data["dataset"]["features"], "r2", seed=0)
    assert measured["metric"] == "r2" and all(math.isfinite(r["drop"]) for r in measured["rows"])
    assert measured["worst"]["drop"] > 0  # noise and a shift cost a linear model some r2


def test_gate_fails_a_tight_drop_with_the_check_named(report) -> None:
    worst = report["worst"]
    tight = make_order(metrics={"roc_auc": ">= 0.5"}, max_robustness_drop=max(worst["drop"] - 0.005, 0.0))
    result = check_gate(tight, {"roc_auc": report["clean_score"]}, 1.0, 1.0, report)
    assert not result["passed"]
    failed = [c for c in result["checks"] if not c["passed"]]
    assert [c["name"] for c in failed] == ["max_robustness_drop"]
    assert f"worst perturbation: {worst['perturbation']}, roc_auc" in failed[0]["message"]
    loose = make_order(metrics={"roc_auc": ">= 0.5"}, max_robustness_drop=worst["drop"] + 0.01)
    assert check_gate(loose, {"roc_auc": report["clean_score"]}, 1.0, 1.0, report)["passed"]


@pytest.mark.parametrize("task", ["tabular-classification", "tabular-regression"])
def test_tabular_specs_declare_the_measure(task: str) -> None:
    spec = task_spec(task)
    assert spec.robustness and spec.hook("evaluation.robustness").__module__ == "mofang.tasks.tabular.robustness"
