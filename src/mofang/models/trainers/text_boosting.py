"""LightGBM on sparse character n-gram TF-IDF.

Measured against LightGBM on a 256-dimension TruncatedSVD of the same TF-IDF (300 trees, 80/20 split):
waimai_10k macro-F1 0.895 in 6.9 s (sparse) vs 0.889 in 4.9 s + 5.6 s for the SVD; FewCLUE TNEWS 0.306 vs
0.306 at equal time. Sparse is as good or better and needs no SVD, so the family boosts on the sparse matrix."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import optuna

from mofang.models.text.multilabel import OneVsRest
from mofang.models.text.trainer import TFIDF_20K, TextTrainer
from mofang.models.trainers.boosting import LightGBMTrainer


class TfidfLightGBMTrainer(TextTrainer, LightGBMTrainer):
    """Gradient-boosted trees over the 20k most frequent character 1–2-grams; early-stopped on valid and
    cut at the deadline like the tabular family."""

    mode = "text-sparse"
    max_trials = 20
    chars_per_second = 100_000

    def pipeline_params(self) -> dict[str, Any]:
        return TFIDF_20K

    def first_params(self) -> dict[str, Any]:
        return {"learning_rate": 0.15, "num_leaves": 31, "min_child_samples": 10, "colsample_bytree": 0.3,
                "subsample": 0.9, "reg_alpha": 1e-6, "reg_lambda": 1e-3}

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {
            "learning_rate": trial.suggest_float("learning_rate", 0.03, 0.3, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 7, 127, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 3, 50, log=True),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.1, 0.6),
            "subsample": trial.suggest_float("subsample", 0.6, 1.0),
            "reg_alpha": trial.suggest_float("reg_alpha", 1e-8, 1.0, log=True),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-6, 10.0, log=True),
        }

    def common(self, params: dict[str, Any], seed: int) -> dict[str, Any]:
        # one thread: on a busy 2-core machine two LightGBM threads made sparse training 6x slower (measured)
        return {**super().common(params, seed), "n_jobs": self.threads(1)}

    def build(self, params: dict[str, Any], seed: int) -> Any:
        return lgb.LGBMClassifier(**self.common(params, seed))

    def fit_multilabel(self, estimator: Any, X: Any, Y: np.ndarray, X_valid: Any, Y_valid: np.ndarray,
                       deadline: float) -> Any:
        """One early-stopped booster per label, each within its share of the time left."""
        def fit_one(model: Any, X: Any, y: np.ndarray, X_valid: Any, y_valid: Any, until: float) -> Any:
            return self.fit_estimator(model, X, y, X_valid, y_valid, until, [])

        return OneVsRest(estimator).fit(X, Y, X_valid, Y_valid, deadline, fit_one=fit_one)

    def learned_params(self, estimator: Any) -> dict[str, Any]:
        if isinstance(estimator, OneVsRest):
            trees = [e.best_iteration_ or e.n_estimators_ for e in estimator.estimators_ if not isinstance(e, float)]
            return {"n_estimators_per_label": [int(t) for t in trees]}
        return super().learned_params(estimator)
