"""Linear text families: character n-gram and jieba word n-gram TF-IDF under a calibrated linear SVM or
logistic regression."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
import optuna
import pandas as pd

from mofang.models.candidate import Candidate
from mofang.models.text.linear import CalibratedLinear
from mofang.models.text.trainer import TextTrainer
from mofang.models.trainers.base import cross_validation_folds, default_metric


class LinearTextTrainer(TextTrainer):
    """TF-IDF → one-vs-rest linear scores → probabilities calibrated on valid. Tuned: the loss (SVM or
    logistic), C and class weighting; with few labelled rows each trial is scored by 5-fold
    cross-validation over train + valid (a 342-row, 15-class valid split chose C by noise)."""

    max_trials = 40
    multilabel_native = True  # CalibratedLinear takes a 0/1 label matrix itself
    refit_on_valid = True
    cv_folds = 5  # a fit takes well under a second on the few thousand rows where valid alone chooses noisily

    # character n-gram ranges compared by cross-validation when the rows are few (the first is the default)
    ngram_choices: ClassVar[tuple[tuple[int, int], ...]] = ()
    _ngrams: tuple[int, int] | None = None

    def first_params(self) -> dict[str, Any]:
        return {"loss": "svm", "C": 0.3, "balanced": False}

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame, dataset: dict[str, Any], budget_s: float,
            seed: int = 42, **options: Any) -> tuple[Candidate, dict[str, Any]]:
        """With few labelled rows, each of `ngram_choices` is searched on an equal share of the budget and
        the one with the best cross-validated score kept (short texts may read better without trigrams)."""
        labelled = [self._labelled(f, dataset["target"], dataset.get("classes"), dataset)[1] for f in (train, valid)]
        few = cross_validation_folds(self.cv_folds, *labelled, seed) is not None if self.cv_folds else False
        if len(self.ngram_choices) < 2 or not few or self._multi_label(dataset):
            return super().fit(train, valid, dataset, budget_s, seed, **options)
        started, tried = time.monotonic(), []
        for i, ngrams in enumerate(self.ngram_choices):
            self._ngrams = ngrams
            share = (budget_s - (time.monotonic() - started)) / (len(self.ngram_choices) - i)
            candidate, info = super().fit(train, valid, dataset, share, seed, **options)
            tried.append((ngrams, candidate, info))
        self._ngrams = None
        metric = tried[0][2]["metric"]
        direction = (options.get("metric") or default_metric(self.task, dataset.get("classes")))[1]
        scores = [(info.get("selection_metrics") or info["valid_metrics"]).get(metric) for _, _, info in tried]
        best = max(range(len(tried)), key=lambda i: -np.inf if scores[i] is None else
                   (scores[i] if direction == "higher" else -scores[i]))
        ngrams, candidate, info = tried[best]
        compared = ", ".join(f"{a}–{b} {metric} {s:.4f}" if s is not None else f"{a}–{b} n/a"
                             for ((a, b), _, _), s in zip(tried, scores, strict=True))
        info["cross_validated"] = (info.get("cross_validated", "trials scored on valid")
                                   + f"; character n-grams {compared}: {ngrams[0]}–{ngrams[1]} kept")
        info["trials"] = sum(i["trials"] for _, _, i in tried)
        info["fit_seconds"] = round(time.monotonic() - started, 3)
        return candidate, info

    def pipeline_params(self) -> dict[str, Any]:
        return {**self.family_pipeline(), **({"char_ngrams": self._ngrams} if self._ngrams else {})}

    def family_pipeline(self) -> dict[str, Any]:
        """This family's TextPipeline settings (`pipeline_params` adds the n-gram range being tried)."""
        return {}

    def refit_rows(self, candidate: Candidate, dataset: dict[str, Any], rows: pd.DataFrame, seed: int,
                   params: dict[str, Any] | None = None) -> Candidate:
        """Refitted with the candidate's own n-gram range (the one its selection kept)."""
        self._ngrams = tuple(getattr(candidate.pipeline_, "char_ngrams", ())) or None
        try:
            return super().refit_rows(candidate, dataset, rows, seed, params)
        finally:
            self._ngrams = None

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        loss = trial.suggest_categorical("loss", ["svm", "logistic"])
        return {"loss": loss, "C": trial.suggest_float("C", 0.03, 30.0, log=True),
                "balanced": trial.suggest_categorical("balanced", [False, True])}

    def build(self, params: dict[str, Any], seed: int) -> Any:
        return CalibratedLinear(loss=params["loss"], C=params["C"],
                                class_weight="balanced" if params.get("balanced") else None, seed=seed)

    def fit_estimator(self, estimator: Any, X: Any, y: np.ndarray, X_valid: Any, y_valid: np.ndarray,
                      deadline: float, categorical: list[int]) -> Any:
        return estimator.fit(X, y, X_valid, y_valid)

    def refit_estimator(self, fitted: Any, params: dict[str, Any], X: Any, y: np.ndarray, seed: int,
                        multi: bool, categorical: list[int]) -> Any:
        """Refitted on every row, calibrated as the chosen model was on valid."""
        estimator = self.build(params, seed).fit(X, y)
        estimator.scale_, estimator.offset_ = fitted.scale_.copy(), fitted.offset_.copy()
        return estimator


class CharTfidfLinearTrainer(LinearTextTrainer):
    """Character 1–3-grams: no word segmentation needed, robust to typos and mixed scripts."""

    chars_per_second = 200_000
    ngram_choices = ((1, 3), (1, 2))

    def family_pipeline(self) -> dict[str, Any]:
        return {"char_ngrams": (1, 3), "max_features": 200_000}


class WordTfidfLinearTrainer(LinearTextTrainer):
    """jieba word 1–2-grams (Latin words whole): a second view of the text for the selection."""

    chars_per_second = 120_000

    def family_pipeline(self) -> dict[str, Any]:
        return {"chars": False, "words": True, "word_ngrams": (1, 2), "max_word_features": 150_000}
