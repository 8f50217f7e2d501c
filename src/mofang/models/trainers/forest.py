"""Random forests and extremely randomised trees: native missing values, category codes as ordered splits,
out-of-bag answers as their out-of-fold predictions (one fit on train + valid instead of k)."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier, RandomForestRegressor

from mofang.models.trainers.base import Trainer

TREES = 120
# a tree's leaves are capped so a forest stays a deliverable size and a served row fast (unpruned trees on 30k
# rows made a 200 MB forest): 120 trees of at most 1,024 leaves are at most ~20 MB before compression
MAX_LEAVES = 1024
# rows each tree draws for itself (bootstrap) on large tables: the forest still reads every row across its trees,
# but a tree's cost stops growing with the table (120 trees on 714k rows took minutes against a 40 s share)
TREE_ROWS = 100_000


class ForestTrainer(Trainer):
    mode = "tree"
    max_trials = 8  # a small space of sound settings: a few trials choose among them, the rest is wasted time
    refit_on_valid = True
    searches_balance = True
    oob_bagging = True  # out-of-fold predictions from the out-of-bag rows of one fit on train + valid
    classifier_class: Any = None
    regressor_class: Any = None

    def portfolio(self) -> list[dict[str, Any]]:
        return [{"max_features": "sqrt", "min_samples_leaf": 2}, {"max_features": "half", "min_samples_leaf": 5},
                {"max_features": "sqrt", "min_samples_leaf": 10}]

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        params = {"max_features": trial.suggest_categorical("max_features", ["sqrt", "half", "all"]),
                  "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 30, log=True)}
        return self.with_balance(trial, params)

    def common(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        features = {"sqrt": "sqrt", "half": 0.5, "all": 1.0}[params.get("max_features", "sqrt")]
        return {"n_estimators": TREES, "max_features": features, "min_samples_leaf": int(params["min_samples_leaf"]),
                "max_leaf_nodes": MAX_LEAVES, "bootstrap": True, "random_state": seed, "n_jobs": self.threads(2)}

    def fit_estimator(self, estimator: Any, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray,
                      y_valid: np.ndarray, deadline: float, categorical: list[int]) -> Any:
        if X.shape[0] > TREE_ROWS:
            estimator.set_params(max_samples=TREE_ROWS)
        estimator.fit(X, y)
        estimator.set_params(n_jobs=1)  # served rows are few: threads cost more than they save
        return estimator

    def build_oob(self, params: dict[str, Any], seed: int) -> Any:
        estimator = self.build(params, seed)
        estimator.set_params(oob_score=True)
        return estimator


class ForestClassifierTrainer(ForestTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        weight = "balanced_subsample" if params.get("balanced") else None
        return self.classifier_class(**self.common(params, seed), criterion="gini", class_weight=weight)


class ForestRegressorTrainer(ForestTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return self.regressor_class(**self.common(params, seed))


class RandomForestClassifierTrainer(ForestClassifierTrainer):
    classifier_class = RandomForestClassifier


class RandomForestRegressorTrainer(ForestRegressorTrainer):
    regressor_class = RandomForestRegressor


class ExtraTreesClassifierTrainer(ForestClassifierTrainer):
    classifier_class = ExtraTreesClassifier


class ExtraTreesRegressorTrainer(ForestRegressorTrainer):
    regressor_class = ExtraTreesRegressor
