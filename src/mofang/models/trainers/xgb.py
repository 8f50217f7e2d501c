"""The XGBoost family: histogram trees with native categorical splits and missing values, early-stopped
on valid, cut at the deadline."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import optuna
import xgboost as xgb

from mofang.models.trainers.base import Trainer

MAX_TREES = 3000
PATIENCE = 50
PARAMS = ("learning_rate", "max_depth", "min_child_weight", "subsample", "colsample_bytree", "reg_lambda", "reg_alpha")


class StopAtDeadline(xgb.callback.TrainingCallback):
    """End boosting (keeping the trees so far) once the deadline passes."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        return epoch > 0 and time.monotonic() > self.deadline


class XGBoostTrainer(Trainer):
    """Tree mode: numerics with NaN as missing (XGBoost learns the side missing values go), categories as
    codes split natively (`feature_types` "c"; unknown at serving → missing)."""

    mode = "tree"
    max_trials = None  # the time and a plateau end the search
    bag_folds = 5
    searches_balance = True
    refit_on_valid = True  # refits and fold models use the early-stopped number of trees

    def portfolio(self) -> list[dict[str, Any]]:
        base = {"learning_rate": 0.08, "max_depth": 6, "min_child_weight": 1.0, "subsample": 0.9,
                "colsample_bytree": 0.8, "reg_lambda": 1.0, "reg_alpha": 1e-6}
        return [base,
                {**base, "learning_rate": 0.05, "max_depth": 4, "min_child_weight": 3.0, "colsample_bytree": 0.6},
                {**base, "learning_rate": 0.03, "max_depth": 8, "min_child_weight": 5.0, "subsample": 0.7,
                 "reg_lambda": 5.0}]

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        params = {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_depth": trial.suggest_int("max_depth", 3, 10),
            "min_child_weight": trial.suggest_float("min_child_weight", 0.5, 20.0, log=True),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 20.0, log=True),
            "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 5.0, log=True),
        }
        return self.with_balance(trial, params)

    def common(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        chosen = {k: v for k, v in params.items() if k in PARAMS}  # not what joined later (threshold, notes)
        return {**chosen, "n_estimators": int(params.get("n_estimators", MAX_TREES)), "tree_method": "hist",
                "max_cat_to_onehot": 4, "max_bin": 256, "random_state": seed, "n_jobs": self.threads(2), "verbosity": 0}

    def fit_estimator(self, estimator: Any, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray,
                      y_valid: np.ndarray, deadline: float, categorical: list[int]) -> Any:
        kinds = ["c" if j in set(categorical) else "q" for j in range(X.shape[1])]
        extra: dict[str, Any] = {}
        stopping = None
        if X_valid.shape[0]:
            extra = {"eval_set": [(X_valid, y_valid)], "verbose": False}
            stopping = PATIENCE
        estimator.set_params(feature_types=kinds, enable_categorical=bool(categorical),
                             early_stopping_rounds=stopping, callbacks=[StopAtDeadline(deadline)])
        estimator.fit(X, y, **extra)
        estimator.set_params(callbacks=None, early_stopping_rounds=None)  # nothing of the fit in the saved model
        return estimator

    def learned_params(self, estimator: Any) -> dict[str, Any]:
        best = getattr(estimator, "best_iteration", None)
        trees = int(best) + 1 if best is not None else int(estimator.get_booster().num_boosted_rounds())
        return {"n_estimators": trees}


class XGBoostClassifierTrainer(XGBoostTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        weight = self.positive_weight() if params.get("balanced") else 1.0
        return xgb.XGBClassifier(**self.common(params, seed), scale_pos_weight=weight)


class XGBoostRegressorTrainer(XGBoostTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return xgb.XGBRegressor(**self.common(params, seed))
