"""An embedding family that downloads nothing: TF-IDF → truncated SVD ("LSA") sentence vectors → logistic head."""

from __future__ import annotations

from typing import Any

import optuna

from mofang.models.text.lsa import LsaClassifier
from mofang.models.text.trainer import TFIDF_20K, TextTrainer


class LsaLinearTrainer(TextTrainer):
    """Dense LSA vectors of a character TF-IDF (the 20k most frequent 1–2-grams, the same features as
    tfidf-lightgbm, fitted once per job: the projection is n-grams × dims floats, so the vocabulary is kept
    small) with a multinomial logistic head; the SVD is fitted on at most `LsaClassifier.max_svd_rows`
    rows."""

    max_trials = 12
    refit_on_valid = True
    multilabel_native = True  # one SVD, one logistic head per label (LsaClassifier takes a 0/1 matrix)
    chars_per_second = 100_000

    def pipeline_params(self) -> dict[str, Any]:
        return TFIDF_20K

    def first_params(self) -> dict[str, Any]:
        return {"dims": 256, "C": 10.0}

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"dims": trial.suggest_categorical("dims", [128, 256, 384]),
                "C": trial.suggest_float("C", 0.3, 100.0, log=True)}

    def build(self, params: dict[str, Any], seed: int) -> Any:
        return LsaClassifier(dims=params["dims"], C=params["C"], seed=seed)
