"""The CatBoost family: ordered boosting with its own target statistics for categories, early-stopped on
valid, cut at the deadline."""

from __future__ import annotations

import time
from typing import Any

import catboost
import numpy as np
import optuna
import pandas as pd

from mofang.models.trainers.base import Trainer

MAX_TREES = 3000
PATIENCE = 60
PARAMS = ("learning_rate", "depth", "l2_leaf_reg", "random_strength")


class StopAtDeadline:
    """CatBoost callback: end boosting (keeping the trees so far) once the deadline passes."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def after_iteration(self, info: Any) -> bool:
        return info.iteration < 2 or time.monotonic() <= self.deadline


class CatBoostModel:
    """A CatBoost model over the tree-mode matrix: category codes (NaN = missing, its own category) are
    handed to CatBoost as categorical columns, numerics keep NaN (CatBoost's "Min" missing handling)."""

    def __init__(self, model: Any, categorical: list[int]) -> None:
        self.model_ = model
        self.categorical = list(categorical)

    def frame(self, X: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(np.asarray(X, dtype=float))
        for j in self.categorical:
            frame[j] = np.where(np.isnan(frame[j].to_numpy()), -1, frame[j].to_numpy()).astype(np.int64)
        return frame

    def fit(self, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray,
            deadline: float) -> CatBoostModel:
        train = catboost.Pool(self.frame(X), y, cat_features=self.categorical or None)
        extra: dict[str, Any] = {}
        if X_valid.shape[0]:
            extra = {"eval_set": catboost.Pool(self.frame(X_valid), y_valid, cat_features=self.categorical or None),
                     "early_stopping_rounds": PATIENCE, "use_best_model": True}
        self.model_.fit(train, callbacks=[StopAtDeadline(deadline)], verbose=False, **extra)
        return self

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.model_.classes_, dtype=int)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(self.frame(X)), dtype=float)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.model_.predict(self.frame(X)), dtype=float).ravel()

    @property
    def feature_importances_(self) -> np.ndarray:
        return np.asarray(self.model_.get_feature_importance(), dtype=float)


class CatBoostTrainer(Trainer):
    mode = "tree"
    max_trials = None  # the time and a plateau end the search
    bag_folds = 5
    searches_balance = True
    refit_on_valid = True  # refits and fold models use the early-stopped number of trees

    def portfolio(self) -> list[dict[str, Any]]:
        base = {"learning_rate": 0.08, "depth": 6, "l2_leaf_reg": 3.0, "random_strength": 1.0}
        return [base, {**base, "learning_rate": 0.05, "depth": 8, "l2_leaf_reg": 5.0},
                {**base, "depth": 4, "l2_leaf_reg": 1.0}]

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        params = {
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
            "depth": trial.suggest_int("depth", 4, 9),
            "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.5, 30.0, log=True),
            "random_strength": trial.suggest_float("random_strength", 0.1, 5.0, log=True),
        }
        return self.with_balance(trial, params)

    def common(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        chosen = {k: v for k, v in params.items() if k in PARAMS}  # not what joined later (threshold, notes)
        return {**chosen, "iterations": int(params.get("n_estimators", MAX_TREES)), "random_seed": seed,
                "thread_count": self.threads(2), "allow_writing_files": False, "verbose": False}

    def fit_estimator(self, estimator: Any, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray,
                      y_valid: np.ndarray, deadline: float, categorical: list[int]) -> Any:
        return CatBoostModel(estimator, categorical).fit(X, y, X_valid, y_valid, deadline)

    def learned_params(self, estimator: Any) -> dict[str, Any]:
        model = estimator.model_
        best = model.get_best_iteration()
        return {"n_estimators": int(best) + 1 if best is not None else int(model.tree_count_)}


class CatBoostClassifierTrainer(CatBoostTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        extra = {"auto_class_weights": "Balanced"} if params.get("balanced") else {}
        return catboost.CatBoostClassifier(**self.common(params, seed), **extra)


class CatBoostRegressorTrainer(CatBoostTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return catboost.CatBoostRegressor(**self.common(params, seed), loss_function="RMSE")
