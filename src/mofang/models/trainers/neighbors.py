"""The k-nearest-neighbours family over scaled features (one-hot categories, imputed numerics with missing
indicators, standardised), on a sample of the rows when there are many (its answers read every kept row)."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from mofang.core.errors import MofangError
from mofang.models.candidate import Candidate
from mofang.models.trainers.base import Trainer

MAX_ROWS = 20_000  # training rows kept: a served row is compared with each of them
# rows answered while choosing (validation, and out of fold over train + valid when bagged): past this, k-NN would
# spend minutes comparing each with the kept rows (153k validation rows of a 1M-row order: over 10 minutes)
MAX_ANSWERED_ROWS = 150_000


class NeighborsTrainer(Trainer):
    mode = "linear"
    max_trials = 8  # two parameters over a small range
    bag_folds = 5
    refit_on_valid = True

    def portfolio(self) -> list[dict[str, Any]]:
        return [{"n_neighbors": 25, "weights": "distance"}, {"n_neighbors": 60, "weights": "uniform"}]

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"n_neighbors": trial.suggest_int("n_neighbors", 3, 150, log=True),
                "weights": trial.suggest_categorical("weights", ["uniform", "distance"])}

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame, dataset: dict[str, Any], budget_s: float,
            seed: int = 42, **options: Any) -> tuple[Candidate, dict[str, Any]]:
        """As every family, unless the table is too large for k-NN to answer its own validation in time."""
        answered = len(valid) + (len(train) + len(valid) if self.bag_folds >= 2 else 0)
        if answered > MAX_ANSWERED_ROWS:
            raise MofangError(f"skipped at {len(train) + len(valid):,} rows: k-NN answers a row by comparing it with "
                              f"every kept row, and choosing it would answer {answered:,} rows (at most "
                              f"{MAX_ANSWERED_ROWS:,})")
        return super().fit(train, valid, dataset, budget_s, seed, **options)

    def sample(self, features: list[dict[str, Any]], train: pd.DataFrame, y: np.ndarray, budget_s: float,
               seed: int) -> tuple[pd.DataFrame, np.ndarray, str]:
        if len(train) <= MAX_ROWS:
            return train, y, ""
        keep = np.sort(np.random.default_rng(seed).choice(len(train), MAX_ROWS, replace=False))
        return (train.iloc[keep].reset_index(drop=True), y[keep],
                f"trained on a seeded sample of {MAX_ROWS:,} of {len(train):,} rows (each answer reads every kept row)")

    def fit_estimator(self, estimator: Any, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray,
                      y_valid: np.ndarray, deadline: float, categorical: list[int]) -> Any:
        estimator.set_params(n_neighbors=max(1, min(estimator.n_neighbors, len(X))))
        return estimator.fit(X, y)

    def common(self, params: dict[str, Any]) -> dict[str, Any]:
        # a ball tree: a served row in ~1 ms every time; brute force (OpenMP) spiked to 350 ms per row beside
        # torch's OpenMP runtime in the same process
        return {"n_neighbors": int(params["n_neighbors"]), "weights": params["weights"], "algorithm": "ball_tree",
                "n_jobs": 1}


class KNeighborsClassifierTrainer(NeighborsTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return KNeighborsClassifier(**self.common(params))


class KNeighborsRegressorTrainer(NeighborsTrainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return KNeighborsRegressor(**self.common(params))
