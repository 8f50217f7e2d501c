"""k-fold bagging with out-of-fold predictions, the decision threshold chosen on them, and Caruana's weighted
ensemble across families chosen on them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mofang.models import Candidate, get_trainer
from mofang.models.bagging import BaggedModel
from mofang.models.ensemble import EnsembleCandidate, caruana, oof_scorer
from tests.models.tabular_fixtures import classification_data, regression_data
from tests.timing import load_factor


def test_the_chosen_parameters_are_bagged_with_out_of_fold_predictions():
    data = classification_data(n=400, seed=1)  # fast trials: the search ends on its plateau, time is left
    rows = len(data["train"]) + len(data["valid"])
    candidate, info = get_trainer("tabular-classification", "lightgbm").fit(
        data["train"], data["valid"], data["dataset"], budget_s=6.0 * min(load_factor(), 3.0), seed=0)  # a busy
    # machine's trials take longer (6.2 s for one at load 3): the budget grows with the load, the rule is the same
    assert "bagged" in info and "not bagged" not in info["bagged"], (info["stopped"], info.get("bagged"))
    folds = len(candidate.estimator_.estimators_)  # 5, or fewer when the time left is short (a busy machine)
    assert isinstance(candidate.estimator_, BaggedModel) and 2 <= folds <= 5
    assert f"{folds}-fold bagged" in info["bagged"] and candidate.params["n_estimators"] >= 1
    assert info["oof_pred"].shape == (rows, 2) and len(info["oof_truth"]) == rows
    assert info["selection_metrics"]["roc_auc"] == info["valid_metrics"]["roc_auc"] > 0.75
    proba = candidate.predict_proba(data["test"])
    assert np.allclose(candidate.predict_proba(data["test"].head(3)), proba[:3])  # the one-thread booster path
    assert candidate.feature_importance()


def test_a_forest_uses_its_out_of_bag_answers():
    data = regression_data(n=600, seed=1)
    rows = len(data["train"]) + len(data["valid"])
    candidate, info = get_trainer("tabular-regression", "randomforest").fit(
        data["train"], data["valid"], data["dataset"], budget_s=5.0, seed=0)
    assert "out-of-bag" in info["bagged"] and info["oof_pred"].shape == (rows,)
    assert np.isfinite(info["oof_pred"]).all() and info["selection_metrics"]["rmse"] > 0


def test_the_threshold_of_an_imbalanced_target_is_chosen_out_of_fold_with_the_class_balance():
    data = classification_data(n=1500, seed=4)
    train, valid = data["train"], data["valid"]
    keep = (train["label"] == "no") | (np.arange(len(train)) % 7 == 0)
    keep_valid = (valid["label"] == "no") | (np.arange(len(valid)) % 7 == 0)
    candidate, info = get_trainer("tabular-classification", "linear").fit(
        train[keep], valid[keep_valid], data["dataset"], budget_s=3.0, seed=0)
    params = candidate.params
    assert params["threshold_metric"] == "f1_macro" and params["threshold_rows"].startswith("out-of-fold")
    assert params["class_balance"]["yes"] < 0.2 and candidate.threshold_ < 0.5
    truth, proba = info["oof_truth"], info["oof_pred"]
    at_half = np.where(proba[:, 1] >= 0.5, "yes", "no")
    chosen = candidate.labels(proba)
    from sklearn.metrics import f1_score

    assert f1_score(truth, chosen, average="macro") > f1_score(truth, at_half, average="macro")
    effect = params["threshold_effect"]
    assert effect["metric"] == "f1_macro" and effect["at_threshold"] >= effect["at_0.5"]


def test_caruana_weighs_complementary_members_and_drops_a_useless_one():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    signal = y + rng.normal(0, 1.0, 3000)
    a = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.0, 3000))))
    b = 1 / (1 + np.exp(-(signal + rng.normal(0, 1.0, 3000))))
    noise = rng.random(3000)
    predictions = {name: np.column_stack([1 - p, p]) for name, p in (("a", a), ("b", b), ("noise", noise))}
    truth = np.where(y == 1, "yes", "no")
    scorer = oof_scorer("tabular-classification", "roc_auc", "higher", truth, ["no", "yes"])
    found = caruana(predictions, scorer.score, scorer.direction)
    assert found is not None and found.weights["a"] > 0.3 and found.weights["b"] > 0.3
    assert found.weights.get("noise", 0.0) < 0.1
    assert abs(sum(found.weights.values()) - 1) < 1e-9
    assert found.score > max(scorer.score(predictions["a"]), scorer.score(predictions["b"]))
    assert caruana({"a": predictions["a"], "noise": predictions["noise"]}, scorer.score, "higher") is None


def test_a_weighted_regression_ensemble_answers_the_weighted_mean():
    data = regression_data(n=500, seed=3)
    args = (data["train"], data["valid"], data["dataset"])
    linear, _ = get_trainer("tabular-regression", "linear").fit(*args, budget_s=1.0, seed=0)
    knn, _ = get_trainer("tabular-regression", "knn").fit(*args, budget_s=1.0, seed=0)
    ensemble = EnsembleCandidate([linear, knn], weights=[0.75, 0.25])
    test = data["test"]
    expected = 0.75 * linear.predict(test) + 0.25 * knn.predict(test)
    assert np.allclose(ensemble.predict(test), expected) and ensemble.params["weights"] == [0.75, 0.25]
    assert isinstance(ensemble.predict(pd.DataFrame(test.head(1))), np.ndarray)
    assert isinstance(Candidate, type)


def test_a_bag_is_refitted_on_every_row_as_one_model_with_its_trees_and_threshold():
    from lightgbm import LGBMClassifier

    from mofang.models.refit import refit_on_rows, refittable

    data = classification_data(n=400, seed=1)
    candidate, _ = get_trainer("tabular-classification", "lightgbm").fit(
        data["train"], data["valid"], data["dataset"], budget_s=6.0, seed=0, decision_metric="f1_macro")
    assert refittable(candidate) and candidate.threshold_ is not None
    rows = pd.concat([data["train"], data["valid"], data["test"]], ignore_index=True)
    result = refit_on_rows(candidate, data["dataset"], rows, seed=0)
    again = result.candidate
    assert again is not None and isinstance(again.estimator_, LGBMClassifier)
    assert again.estimator_.n_estimators == candidate.params["n_estimators"]  # early-stopped count: no rows to stop on
    assert again.threshold_ == candidate.threshold_ and again.params["refit_rows"] == len(rows)
    ensemble = EnsembleCandidate([candidate, candidate], weights=[0.25, 0.75])
    refitted = refit_on_rows(ensemble, data["dataset"], rows, seed=0).candidate
    assert isinstance(refitted, EnsembleCandidate) and refitted.weights_ == [0.25, 0.75]
