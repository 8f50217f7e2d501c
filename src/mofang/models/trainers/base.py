"""The Trainer contract: a family says how to build and fit its estimator; the base does the rest."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import optuna
import pandas as pd

from mofang.errors import MofangError
from mofang.evaluation.metrics import compute_metrics
from mofang.models.candidate import Candidate
from mofang.models.features import FeaturePipeline, Mode
from mofang.models.tuning import search
from mofang.orders.schema import METRICS_BY_TASK, Task

CLASSIFICATION = "tabular-classification"
OnTrial = Callable[[int, float, "float | None"], None]


class Trainer:
    """Base class of a candidate family. Subclasses set `mode` (feature pipeline), `max_trials`, and
    implement `space` (hyperparameters of one trial) and `build` (an unfitted estimator); they may
    override `fit_estimator` (e.g. early stopping on valid) and `learned_params`."""

    task: ClassVar[str]
    family: ClassVar[str]
    mode: ClassVar[Mode] = "tree"
    max_trials: ClassVar[int] = 1

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {}

    def first_params(self) -> dict[str, Any] | None:
        """Parameters of the first trial (sound defaults), or None to let the sampler choose."""
        return None

    def build(self, params: dict[str, Any], seed: int) -> Any:
        raise NotImplementedError

    def fit_estimator(self, estimator: Any, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray,
                      y_valid: np.ndarray, deadline: float, categorical: list[int]) -> Any:
        """Fit on train; `categorical` lists the columns holding category codes (tree mode)."""
        return estimator.fit(X, y)

    def learned_params(self, estimator: Any) -> dict[str, Any]:
        """Parameters the fit chose itself (e.g. the early-stopped number of trees)."""
        return {}

    # -- the bookkeeping -------------------------------------------------------------------------
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame, dataset: dict[str, Any], budget_s: float,
            seed: int = 42, on_trial: OnTrial | None = None,
            metric: tuple[str, str] | None = None,
            decision_metric: str | None = None) -> tuple[Candidate, dict[str, Any]]:
        """Search this family's hyperparameters within `budget_s` seconds; return the best candidate
        (fitted on train, early-stopped/selected on valid) and info: valid_metrics, trials, fit_seconds."""
        started = time.monotonic()
        target, classes = dataset["target"], dataset.get("classes")
        train, y = self._labelled(train, target, classes)
        valid, y_valid = self._labelled(valid, target, classes)
        if len(train) == 0:
            raise MofangError(f"{self.family}: no labelled training rows")
        pipeline = FeaturePipeline(dataset["features"], self.mode).fit(train)
        X, X_valid = pipeline.transform(train), pipeline.transform(valid)
        name, direction = metric or default_metric(self.task, classes)
        y_valid_labels = valid[target].to_numpy()

        def objective(trial: optuna.Trial, deadline: float) -> tuple[float | None, Any]:
            params = self.space(trial)
            estimator = self.fit_estimator(self.build(params, seed), X, y, X_valid, y_valid, deadline,
                                           pipeline.categorical_indices_)
            candidate = self._candidate(params, dataset, pipeline, estimator)
            scores = _scores(candidate, X_valid, y_valid_labels)
            return scores.get(name), candidate

        result = search(objective, direction=direction, budget_s=budget_s - (time.monotonic() - started),
                        seed=seed, max_trials=self.max_trials, first_params=self.first_params(),
                        on_trial=on_trial)
        if result.best_model is None:
            raise MofangError(f"{self.family}: every trial failed ({result.stopped})")
        candidate: Candidate = result.best_model
        candidate.params.update(self.learned_params(candidate.estimator_))
        if decision_metric and candidate.is_classifier and len(candidate.classes_ or []) == 2:
            candidate.threshold_ = tune_threshold(candidate.proba_from_matrix(X_valid)[:, 1],
                                                  y_valid_labels, candidate.classes_, decision_metric)
            candidate.params["decision_threshold"] = candidate.threshold_
        info = {"valid_metrics": _scores(candidate, X_valid, y_valid_labels), "trials": result.trials,
                "failed_trials": result.failed, "fit_seconds": round(time.monotonic() - started, 3),
                "stopped": result.stopped, "metric": name}
        return candidate, info

    def _candidate(self, params: dict[str, Any], dataset: dict[str, Any], pipeline: FeaturePipeline,
                   estimator: Any) -> Candidate:
        return Candidate(name=self.family, family=self.family, task=self.task, params=params,
                         features=dataset["features"], pipeline=pipeline, estimator=estimator,
                         classes=dataset.get("classes") if self.task == CLASSIFICATION else None)

    def _labelled(self, df: pd.DataFrame, target: str,
                  classes: list[str] | None) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows with a usable target, and the target as class indices (classification) or floats."""
        df = df.reset_index(drop=True)
        if self.task == CLASSIFICATION:
            codes = pd.Categorical(df[target].where(df[target].isna(), df[target].astype(str)),
                                   categories=classes).codes
            keep = codes >= 0
            return df[keep].reset_index(drop=True), np.asarray(codes[keep], dtype=int)
        values = pd.to_numeric(df[target], errors="coerce").to_numpy(dtype=float)
        keep = ~np.isnan(values)
        return df[keep].reset_index(drop=True), values[keep]


THRESHOLD_METRICS = ("f1_macro", "accuracy", "recall_macro", "precision_macro")


def tune_threshold(positive_proba: np.ndarray, y_true: np.ndarray, classes: list[str], metric: str) -> float:
    """The decision threshold on P(second class) that maximises `metric` on these (validation) rows;
    searched over the 2nd–98th percentiles so a tiny valid split cannot push it to an extreme."""
    candidates = np.unique(np.round(np.quantile(positive_proba, np.linspace(0.02, 0.98, 97)), 4))
    labels = np.asarray(classes, dtype=object)
    best, best_score = 0.5, -np.inf
    for threshold in np.concatenate([[0.5], candidates]):
        y_pred = labels[(positive_proba >= threshold).astype(int)]
        score = compute_metrics(CLASSIFICATION, y_true, y_pred, None, classes).get(metric)
        if score is not None and score > best_score + 1e-9:
            best, best_score = float(threshold), score
    return best


def default_metric(task: str, classes: list[str] | None) -> tuple[str, str]:
    """The primary metric when the order names none."""
    if task == CLASSIFICATION:
        name = "f1_macro" if classes is not None and len(classes) > 2 else "roc_auc"
    else:
        name = "rmse"
    return name, METRICS_BY_TASK[Task(task)][name]


def _scores(candidate: Candidate, X: Any, y_true: np.ndarray) -> dict[str, float | None]:
    """All task metrics from an already-transformed matrix (no re-coercion per trial)."""
    if candidate.is_classifier:
        proba = candidate.proba_from_matrix(X)
        y_pred = candidate.labels(proba)
        return compute_metrics(candidate.task, y_true, y_pred, proba, candidate.classes_)
    return compute_metrics(candidate.task, y_true, candidate.estimator_.predict(X))
