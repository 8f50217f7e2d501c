"""The gradient-boosting family: LightGBM tuned by TPE, early-stopped on valid, cut at the deadline; on
tables, a portfolio of sound settings first, no trial cap, and the chosen settings bagged."""

from __future__ import annotations

import inspect
import time
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna

from mofang.models.trainers.base import Trainer

MAX_TREES = 2000
PARAMS = ("learning_rate", "num_leaves", "min_child_samples", "colsample_bytree", "subsample", "reg_alpha",
          "reg_lambda")
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
    exports_onnx = True
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
        """Estimator arguments: a learned `n_estimators` (a refit or a fold model, which has no rows to stop
        on) is kept, else up to MAX_TREES early-stopped; `balanced` weighs the classes evenly."""
        chosen = {k: v for k, v in params.items() if k in PARAMS}  # not what joined later (threshold, notes)
        if params.get("balanced"):
            chosen["class_weight"] = "balanced"
        repro = {"deterministic": True, "force_row_wise": True} if self.reproducible else {}
        return {**chosen, "n_estimators": int(params.get("n_estimators", MAX_TREES)), "subsample_freq": 1,
                "random_state": seed, "n_jobs": self.threads(2), "verbose": -1, **repro}

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


class TabularLightGBMTrainer(LightGBMTrainer):
    """On tables: sound settings first (the defaults, a shallow slow learner, a regularised wide one), then the
    sampler until the time or a plateau ends it; the chosen settings bagged over train + valid."""

    max_trials = None
    bag_folds = 5
    searches_balance = True
    refit_on_valid = True  # refits and fold models use the early-stopped number of trees

    def portfolio(self) -> list[dict[str, Any]]:
        base = self.first_params()
        configs = [base,
                   {**base, "learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 30, "colsample_bytree": 0.7,
                    "subsample": 0.8, "reg_lambda": 1.0},
                   {**base, "learning_rate": 0.03, "num_leaves": 63, "min_child_samples": 50, "colsample_bytree": 0.5,
                    "subsample": 0.7, "reg_alpha": 0.1, "reg_lambda": 5.0}]
        return configs

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return self.with_balance(trial, super().space(trial))


class LightGBMClassifierTrainer(TabularLightGBMTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return lgb.LGBMClassifier(**self.common(params, seed))


class LightGBMRegressorTrainer(TabularLightGBMTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return lgb.LGBMRegressor(**self.common(params, seed))
