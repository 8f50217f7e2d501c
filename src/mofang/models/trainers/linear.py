"""The linear family: logistic regression / ridge over one-hot, imputed, standardised features."""

from __future__ import annotations

from typing import Any

import optuna
from sklearn.linear_model import LogisticRegression, Ridge

from mofang.models.trainers.base import Trainer


class LogisticTrainer(Trainer):
    mode = "linear"
    exports_onnx = True
    max_trials = 6  # one parameter: six trials cover its useful range
    bag_folds = 5
    refit_on_valid = True

    def first_params(self) -> dict[str, Any]:
        return {"C": 1.0}

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"C": trial.suggest_float("C", 1e-3, 1e2, log=True)}

    def build(self, params: dict[str, Any], seed: int) -> Any:
        return LogisticRegression(C=params["C"], max_iter=500, random_state=seed)


class RidgeTrainer(Trainer):
    mode = "linear"
    exports_onnx = True
    max_trials = 8  # one parameter: eight trials cover its useful range
    bag_folds = 5
    refit_on_valid = True

    def first_params(self) -> dict[str, Any]:
        return {"alpha": 1.0}

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"alpha": trial.suggest_float("alpha", 1e-3, 1e3, log=True)}

    def build(self, params: dict[str, Any], seed: int) -> Any:
        return Ridge(alpha=params["alpha"], random_state=seed)
