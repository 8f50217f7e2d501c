"""The trainer registry: stable names per task, strict lookups, budgets honoured by every family."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mofang.core.metrics import compute_metrics
from mofang.models import Trainer, get_trainer, primary_metric, trainer, trainers_for
from tests.models.tabular_fixtures import classification_data, make_order
from tests.timing import allowed_s


def test_the_tabular_families_per_task():
    for task in ("tabular-classification", "tabular-regression"):
        assert set(trainers_for(task)) == {"dummy", "linear", "knn", "randomforest", "extratrees", "mlp", "catboost",
                                           "xgboost", "lightgbm"}


def test_unknown_family_and_task_are_named():
    with pytest.raises(ValueError, match="unknown family 'xgb'.*expected: catboost, dummy, extratrees, knn, lightgbm"):
        get_trainer("tabular-classification", "xgb")
    with pytest.raises(ValueError, match="no trainers for task"):
        trainers_for("retrieval-qa")


def test_registry_refuses_non_trainers_and_duplicates():
    with pytest.raises(TypeError):
        trainer("tabular-classification", "bogus")(object)
    with pytest.raises(ValueError, match="already registered"):
        @trainer("tabular-classification", "dummy")
        class Other(Trainer):
            pass


def test_primary_metric_defaults_and_order_choice():
    assert primary_metric(make_order(), ["a", "b"]) == ("roc_auc", "higher")
    assert primary_metric(make_order(), ["a", "b", "c"]) == ("f1_macro", "higher")
    assert primary_metric(make_order("tabular-regression", "price")) == ("rmse", "lower")
    order = make_order(metrics={"log_loss": "<= 0.5", "accuracy": ">= 0.8"})
    assert primary_metric(order, ["a", "b"]) == ("log_loss", "lower")


def test_lightgbm_honours_its_budget_and_beats_the_baseline():
    data = classification_data(n=1500)
    args = (data["train"], data["valid"], data["dataset"])
    started = time.monotonic()
    _, info = get_trainer("tabular-classification", "lightgbm").fit(*args, budget_s=2.0, seed=0)
    assert time.monotonic() - started < allowed_s(2 * 2.0 + 1.0)  # loose; the rule itself is in test_tuning
    assert info["trials"] >= 1
    _, baseline = get_trainer("tabular-classification", "dummy").fit(*args, budget_s=1.0, seed=0)
    assert info["valid_metrics"]["roc_auc"] > baseline["valid_metrics"]["roc_auc"] + 0.2


def test_multiclass_with_a_class_missing_from_train():
    data = classification_data(n=600, n_classes=3)
    train = data["train"][data["train"]["label"] != "类2"]
    for family in ("dummy", "linear", "lightgbm"):
        candidate, info = get_trainer("tabular-classification", family).fit(
            train, data["valid"], data["dataset"], budget_s=0.5, seed=0)
        proba = candidate.predict_proba(data["test"])
        assert proba.shape[1] == 3 and np.allclose(proba.sum(axis=1), 1.0)
        if not {"bagged", "refit_rows"} & set(candidate.params):  # a bag or a refit spans valid, where 类2 is
            assert (proba[:, 2] == 0).all()
        assert info["valid_metrics"]["f1_macro"] is not None


def test_decision_threshold_is_tuned_for_f1_on_imbalanced_data():
    from mofang.models.trainers.base import tune_threshold

    rng = np.random.default_rng(0)
    y = np.where(rng.random(2000) < 0.15, "yes", "no")
    p = np.clip(np.where(y == "yes", 0.35, 0.15) + rng.normal(0, 0.1, 2000), 0, 1)  # under-confident model
    threshold = tune_threshold(p, y, ["no", "yes"], "f1_macro")
    assert 0.15 < threshold < 0.4

    def f1(t: float) -> float:
        pred = np.where(p >= t, "yes", "no")
        return compute_metrics("tabular-classification", y, pred, None, ["no", "yes"])["f1_macro"]

    assert f1(threshold) > f1(0.5) + 0.1
