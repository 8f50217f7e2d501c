"""The gradient-boosting family: LightGBM tuned by TPE, early-stopped on valid, cut at the deadline."""

from __future__ import annotations

import inspect
import time
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna

from mofang.models.trainers.base import Trainer

MAX_TREES = 2000
PATIENCE = 50
EVAL_XY = "eval_X" in inspect.signature(lgb.LGBMModel.fit).parameters


class StopAtDeadline:
    """LightGBM callback: end boosting (keeping the trees so far) once the search deadline passes."""

    order = 40

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        if env.iteration > 0 and time.monotonic() > self.deadline:
            raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)


class LightGBMTrainer(Trainer):
    mode = "tree"
    max_trials = 200

    def first_params(self) -> dict[str, Any]:
        return {"learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20, "colsample_bytree": 0.9,
                "subsample": 0.9, "reg_alpha": 1e-6, "reg_lambda": 1e-6}

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 7, 255, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
            "subsample": trial.suggest_float("subsample", 0.5, 1.0),
            "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 10.0, log=True),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-8, 10.0, log=True),
        }

    def common(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        return {**params, "n_estimators": MAX_TREES, "subsample_freq": 1, "random_state": seed,
                "n_jobs": 2, "verbose": -1}

    def fit_estimator(self, estimator: Any, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray,
                      y_valid: np.ndarray, deadline: float, categorical: list[int]) -> Any:
        callbacks: list[Any] = [StopAtDeadline(deadline)]
        extra: dict[str, Any] = {}
        if X_valid.shape[0]:
            callbacks.append(lgb.early_stopping(PATIENCE, verbose=False))
            # LightGBM 4.6 renamed eval_set to eval_X/eval_y; support both sides of the rename
            extra = ({"eval_X": (X_valid,), "eval_y": (y_valid,)} if EVAL_XY else
                     {"eval_set": [(X_valid, y_valid)]})
        return estimator.fit(X, y, categorical_feature=categorical or "auto", callbacks=callbacks, **extra)

    def learned_params(self, estimator: Any) -> dict[str, Any]:
        return {"n_estimators": int(estimator.best_iteration_ or estimator.n_estimators_)}


class LightGBMClassifierTrainer(LightGBMTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return lgb.LGBMClassifier(**self.common(params, seed))


class LightGBMRegressorTrainer(LightGBMTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return lgb.LGBMRegressor(**self.common(params, seed))
