"""The Trainer contract: a family says how to build and fit its estimator; the base does the rest."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import optuna
import pandas as pd
import scipy.sparse as sp

from mofang.core.errors import MofangError
from mofang.core.metrics.predictive import compute_metrics, label_metrics
from mofang.core.tasks import spec as task_spec
from mofang.models.candidate import Candidate
from mofang.models.features import FeaturePipeline
from mofang.models.labels import indicator, is_classification, label_lists
from mofang.models.reproducible import THREADS, hard_cap_s, is_reproducible
from mofang.models.text.pipeline import TEXT_MODES, TextPipeline
from mofang.models.tuning import SearchResult, search

OnTrial = Callable[[int, float, "float | None"], None]


class Trainer:
    """Base class of a candidate family. Subclasses set `mode` (feature pipeline: "tree"/"linear" for
    tabular rows, "text-sparse"/"text-raw" for text), `max_trials`, and implement `space`
    (hyperparameters of one trial) and `build` (an unfitted estimator); they may override
    `pipeline_params` (text pipeline settings), `fit_estimator` (e.g. early stopping on valid) and
    `learned_params`. During `fit`, `self.order` is the job's order (or None), e.g. for `base_model`.

    Multi-label datasets: `y` is a 0/1 matrix (rows × classes). Unless the family sets
    `multilabel_native`, its estimator is wrapped one-vs-rest (`fit_multilabel`)."""

    task: ClassVar[str]
    family: ClassVar[str]
    mode: ClassVar[str] = "tree"
    max_trials: ClassVar[int | None] = 1  # None: no cap (the time and a plateau end the search)
    multilabel_native: ClassVar[bool] = False
    latency_reserve_s: ClassVar[float] = 2.0  # planned time to measure a candidate's one-row latency
    refit_on_valid: ClassVar[bool] = False  # refit the chosen parameters on train + valid when time allows
    # > 0: with few labelled rows (single-label classification), trials are scored by this many folds of
    # cross-validation over train + valid instead of by the valid split alone (cheap families only)
    cv_folds: ClassVar[int] = 0
    # > 0: single-label tables, the chosen parameters are bagged: one model per fold of train + valid, whose
    # out-of-fold predictions choose the decision threshold and the ensemble across families (the delivered
    # model answers with their mean); `oob_bagging`: one fit on train + valid whose out-of-bag answers are
    # those predictions (forests)
    bag_folds: ClassVar[int] = 0
    oob_bagging: ClassVar[bool] = False
    searches_balance: ClassVar[bool] = False  # its `space` calls `with_balance`
    force_balanced: bool = False  # a rework round for a missed metric: every trial weighs the classes evenly
    exports_onnx: ClassVar[bool] = False  # a single fitted model of the family has an ONNX export (the edge)
    order: Any = None
    # a reproducible build's fixed number of trials (the model plan's, set by the workshop before `fit`)
    planned_trials: int | None = None
    dataset_classes: list[str] | None = None
    imbalanced: bool = False  # binary, the rarer class under IMBALANCED of the labelled rows
    class_share: dict[str, float] | None = None

    def pipeline_params(self) -> dict[str, Any]:
        """Keyword arguments of this family's TextPipeline (text modes only)."""
        return {}

    def make_pipeline(self, features: list[dict[str, Any]]) -> FeaturePipeline | TextPipeline:
        """The unfitted feature pipeline of this family's `mode`."""
        if self.mode in TEXT_MODES:
            return TextPipeline(features, self.mode, **self.pipeline_params())  # type: ignore[arg-type]
        return FeaturePipeline(features, self.mode)  # type: ignore[arg-type]

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {}

    def first_params(self) -> dict[str, Any] | None:
        """Parameters of the first trial (sound defaults), or None to let the sampler choose."""
        return None

    def portfolio(self) -> list[dict[str, Any]]:
        """Configurations that work on most tables, tried in order before the sampler chooses (by default
        `first_params`); each holds a value for every parameter `space` suggests."""
        first = self.first_params()
        return [first] if first else []

    def _portfolio(self) -> list[dict[str, Any]]:
        """The portfolio as searched: for an imbalanced target, unweighted first, then the first configuration
        with balanced class weights (families that search `balanced`)."""
        configs = self.portfolio()
        if self.force_balanced and self.searches_balance:
            return [{**c, "balanced": True} for c in configs]
        if not (self.imbalanced and self.searches_balance and configs):
            return configs
        return [*({**c, "balanced": False} for c in configs), {**configs[0], "balanced": True}]

    def with_balance(self, trial: optuna.Trial, params: dict[str, Any]) -> dict[str, Any]:
        """`params` plus, for an imbalanced binary target, whether to weight the classes evenly (`balanced`,
        chosen by the search like any parameter)."""
        if self.force_balanced:
            params["balanced"] = trial.suggest_categorical("balanced", [True])
        elif self.imbalanced:
            params["balanced"] = trial.suggest_categorical("balanced", [False, True])
        return params

    def positive_weight(self) -> float:
        """Weight of the second class that balances a binary target (negatives / positives)."""
        share = list((self.class_share or {}).values())
        if len(share) != 2 or share[1] <= 0:
            return 1.0
        return float(share[0] / share[1])

    @property
    def reproducible(self) -> bool:
        """Whether this fit belongs to a reproducible build (the order's `reproducible`)."""
        return is_reproducible(self.order)

    def threads(self, default: int) -> int:
        """The library thread count of this family's estimators: `default`, or the fixed one of a reproducible
        build."""
        return THREADS if self.reproducible else default

    def build(self, params: dict[str, Any], seed: int) -> Any:
        raise NotImplementedError

    def fit_estimator(self, estimator: Any, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray,
                      y_valid: np.ndarray, deadline: float, categorical: list[int]) -> Any:
        """Fit on train; `categorical` lists the columns holding category codes (tree mode)."""
        return estimator.fit(X, y)

    def fit_multilabel(self, estimator: Any, X: Any, Y: np.ndarray, X_valid: Any, Y_valid: np.ndarray,
                       deadline: float) -> Any:
        """Multi-label fit: one binary model per class (labels no training row has get a constant)."""
        from sklearn.multiclass import OneVsRestClassifier

        return OneVsRestClassifier(estimator).fit(X, Y)

    def sample(self, features: list[dict[str, Any]], train: pd.DataFrame, y: np.ndarray, budget_s: float,
               seed: int) -> tuple[pd.DataFrame, np.ndarray, str]:
        """The training rows to use within `budget_s` (all by default), and a note when fewer."""
        return train, y, ""

    def featurize(self, features: list[dict[str, Any]], train: pd.DataFrame,
                  valid: pd.DataFrame) -> tuple[FeaturePipeline | TextPipeline, Any, Any]:
        """The fitted pipeline and the model inputs of train and valid."""
        pipeline = self.make_pipeline(features).fit(train)
        return pipeline, pipeline.transform(train), pipeline.transform(valid)

    def learned_params(self, estimator: Any) -> dict[str, Any]:
        """Parameters the fit chose itself (e.g. the early-stopped number of trees)."""
        return {}

    # -- the bookkeeping -------------------------------------------------------------------------
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame, dataset: dict[str, Any], budget_s: float,
            seed: int = 42, on_trial: OnTrial | None = None,
            metric: tuple[str, str] | None = None,
            decision_metric: str | None = None, order: Any = None) -> tuple[Candidate, dict[str, Any]]:
        """Search this family's hyperparameters within `budget_s` seconds; return the best candidate
        (fitted on train, early-stopped/selected on valid) and info: valid_metrics, trials, fit_seconds.
        `order` is the job's order, when there is one (families may read e.g. `order.base_model`)."""
        started = time.monotonic()
        self.order = order
        fixed = self.reproducible  # a fixed plan of trials: the clock ends no search, stops no fit
        target, classes = dataset["target"], dataset.get("classes")
        multi = self._multi_label(dataset)
        train, y = self._labelled(train, target, classes, dataset)
        valid, y_valid = self._labelled(valid, target, classes, dataset)
        if len(train) == 0:
            raise MofangError(f"{self.family}: no labelled training rows")
        self._prepare(dataset, np.concatenate([y, y_valid]) if not multi else None)
        train, y, sampled = self.sample(dataset["features"], train, y, budget_s, seed)
        featurized = time.monotonic()
        pipeline, X, X_valid = self.featurize(dataset["features"], train, valid)
        featurize_s = time.monotonic() - featurized
        refit_reserve = 1.3 * featurize_s if self.refit_on_valid else 0.0
        name, direction = metric or default_metric(self.task, classes)
        y_valid_labels = valid[target].to_numpy()

        def fit_on_train(params: dict[str, Any], deadline: float) -> Candidate:
            estimator = self.build(params, seed)
            if multi and not self.multilabel_native:
                estimator = self.fit_multilabel(estimator, X, y, X_valid, y_valid, deadline)
            else:
                estimator = self.fit_estimator(estimator, X, y, X_valid, y_valid, deadline,
                                               pipeline.categorical_indices_)
            return self._candidate(params, dataset, pipeline, estimator)

        folds = None if multi or sampled else cross_validation_folds(self.cv_folds, y, y_valid, seed)
        bagging = ((self.bag_folds >= 2 or self.oob_bagging) and not multi and folds is None and len(y_valid) > 0
                   and not edge_target(order))  # a bag has no ONNX export: an edge order gets single models
        bag_fits = 1 if self.oob_bagging else self.bag_folds

        def bag_reserve(found: SearchResult) -> float:  # a bag of the best parameters on train + valid
            return BAG_MARGIN * bag_fits * found.best_s * (len(y) + len(y_valid)) / max(1, len(y)) if bagging else 0.0

        def objective(trial: optuna.Trial, deadline: float) -> tuple[float | None, Any]:
            params = self.space(trial)
            if folds is not None:  # scored out of fold; only the chosen parameters are fitted on train
                return self._cv_score(params, folds, X, X_valid, y, y_valid, dataset, pipeline, name,
                                      seed, deadline), params
            candidate = fit_on_train(params, deadline)
            return _scores(candidate, X_valid, y_valid_labels).get(name), candidate

        if fixed:  # the plan's trials; past the hard cap on the family's planned seconds the job fails instead
            result = search(objective, direction=direction, budget_s=hard_cap_s(budget_s), seed=seed,
                            max_trials=self.planned_trials or self.max_trials or 1, first_params=self._portfolio(),
                            on_trial=on_trial, fixed=True)
        else:
            result = search(objective, direction=direction,
                            budget_s=budget_s - (time.monotonic() - started) - refit_reserve,
                            seed=seed, max_trials=self.max_trials, first_params=self._portfolio(),
                            on_trial=on_trial, reserve=bag_reserve)
        if result.best_model is None:
            raise MofangError(f"{self.family}: every trial failed ({result.stopped})")
        candidate: Candidate = (fit_on_train(dict(result.best_model), float("inf")) if folds is not None
                                else result.best_model)
        chosen = dict(candidate.params)  # the parameters `build` takes, before the learned ones join
        candidate.params.update(self.learned_params(candidate.estimator_))
        valid_metrics = _scores(candidate, X_valid, y_valid_labels)
        bag = None
        if bagging:
            bag = self._bag(candidate, dataset, pipeline, X, X_valid, y, y_valid, seed,
                            deadline=float("inf") if fixed else started + budget_s * BAG_OVERRUN, search=result)
        tabular = self.mode in ("tree", "linear")
        threshold_metric = decision_metric or ("f1_macro" if self.imbalanced and tabular else None)
        if bag is not None and bag.candidate is not None and bag.oof is not None and bag.truth is not None:
            candidate = bag.candidate
            if threshold_metric and len(candidate.classes_ or []) == 2:
                candidate.threshold_ = tune_threshold(bag.oof[:, 1], bag.truth, candidate.classes_, threshold_metric)
                candidate.params["decision_threshold"] = candidate.threshold_
                candidate.params["threshold_metric"] = threshold_metric
                candidate.params["threshold_rows"] = f"out-of-fold ({len(bag.truth):,} rows of train + valid)"
                at_half = compute_metrics(self.task, bag.truth, np.asarray(candidate.classes_, dtype=object)[
                    (bag.oof[:, 1] >= 0.5).astype(int)], bag.oof, candidate.classes_)
                bag.metrics = compute_metrics(self.task, bag.truth, candidate.labels(bag.oof), bag.oof,
                                              candidate.classes_)
                candidate.params["threshold_effect"] = {
                    "metric": threshold_metric, "at_threshold": bag.metrics.get(threshold_metric),
                    "at_0.5": at_half.get(threshold_metric)}
        elif candidate.is_multi_label:
            candidate.threshold_ = tune_multilabel_threshold(candidate, candidate.proba_from_matrix(X_valid),
                                                             y_valid_labels, decision_metric or name)
            candidate.params["decision_threshold"] = candidate.threshold_
        elif threshold_metric and candidate.is_classifier and len(candidate.classes_ or []) == 2 and len(valid):
            candidate.threshold_ = tune_threshold(candidate.proba_from_matrix(X_valid)[:, 1],
                                                  y_valid_labels, candidate.classes_, threshold_metric)
            candidate.params["decision_threshold"] = candidate.threshold_
            candidate.params["threshold_metric"] = threshold_metric
            candidate.params["threshold_rows"] = f"valid ({len(valid):,} rows)"
        if self.class_share is not None and candidate.threshold_ is not None:
            candidate.params["class_balance"] = self.class_share
        if candidate.threshold_ is not None and (bag is None or bag.candidate is None):
            valid_metrics = _scores(candidate, X_valid, y_valid_labels)
        info = {"valid_metrics": valid_metrics, "trials": result.trials,
                "failed_trials": result.failed, "fit_seconds": round(time.monotonic() - started, 3),
                "stopped": result.stopped, "metric": name}
        if folds is not None:
            info["selection_metrics"] = {name: result.best_score}  # steadier than valid: what the pick ranks by
            info["cross_validated"] = (f"trials scored by {len(folds)}-fold cross-validation over train + valid "
                                       f"({len(y) + len(y_valid):,} rows, best {name} {_fmt(result.best_score)}); "
                                       "valid scores are the chosen parameters fitted on train")
        if sampled:
            info["sampled"] = sampled
            candidate.params["train_rows"] = len(train)
        if bag is not None:
            info["bagged"] = bag.note
            if bag.candidate is not None:  # the bag's figures are out of fold over train + valid
                info["valid_metrics"] = info["selection_metrics"] = bag.metrics
                info["oof_pred"], info["oof_truth"] = bag.oof, bag.truth
        elif candidate.is_classifier and not candidate.is_multi_label:  # for blending candidates on valid
            info["valid_proba"] = candidate.proba_from_matrix(X_valid)
            info["valid_truth"] = candidate.truth(y_valid_labels)
        info["single_fit_s"] = round(featurize_s + (result.best_s if bag is not None else result.slowest_s), 3)
        if self.refit_on_valid and len(valid) and (bag is None or bag.candidate is None):
            left, need = budget_s - (time.monotonic() - started), 1.3 * (featurize_s + result.slowest_s)
            if left >= need or fixed:  # a reproducible build always refits (its plan counted the fit)
                candidate = self._refit(candidate, chosen, dataset, train, y, valid, y_valid, seed)
                info["refit"] = (f"refitted on train + valid ({len(train) + len(valid):,} rows) with the "
                                 "chosen parameters (valid scores are the model's before the refit)")
            else:
                info["refit"] = f"not refitted on train + valid ({left:.1f}s left < {need:.1f}s needed)"
            info["fit_seconds"] = round(time.monotonic() - started, 3)
        return candidate, info

    def _prepare(self, dataset: dict[str, Any], y_all: np.ndarray | None) -> None:
        """What the families read while they build: the classes, their shares, whether they are imbalanced."""
        classifier = is_classification(self.task)
        self.dataset_classes = list(dataset.get("classes") or []) if classifier else None
        self.class_share, self.imbalanced = None, False
        if classifier and y_all is not None and len(y_all) and self.dataset_classes:
            counts = np.bincount(y_all, minlength=len(self.dataset_classes)) / len(y_all)
            self.class_share = {c: round(float(s), 4) for c, s in zip(self.dataset_classes, counts, strict=True)}
            self.imbalanced = len(counts) == 2 and float(counts.min()) < IMBALANCED

    def _bag(self, candidate: Candidate, dataset: dict[str, Any], pipeline: FeaturePipeline | TextPipeline,
             X: Any, X_valid: Any, y: np.ndarray, y_valid: np.ndarray, seed: int, deadline: float,
             search: SearchResult) -> Bag:
        """The chosen parameters (learned ones included) fitted on k folds of train + valid: the bagged
        candidate and its out-of-fold predictions, or why not (too little time left)."""
        from mofang.models.bagging import BaggedModel, fold_predictions, fold_splits

        X_all = sp.vstack([X, X_valid]).tocsr() if sp.issparse(X) else np.concatenate([X, X_valid])
        y_all = np.concatenate([y, y_valid])
        classes = self.dataset_classes
        n_classes = len(classes) if classes else None
        params = dict(candidate.params)
        one_fit = max(search.best_s, 1e-3) * len(y_all) / max(1, len(y))
        left = deadline - time.monotonic()  # inf in a reproducible build: every fold is fitted
        cats = pipeline.categorical_indices_
        if self.oob_bagging:
            if left < 0.7 * one_fit:  # the estimate is of the slowest kind: allow a little over
                return Bag(None, None, None, {}, f"not bagged: {left:.1f}s left < {one_fit:.1f}s for one fit")
            estimator = self.fit_estimator(self.build_oob(params, seed), X_all, y_all, X_all[:0], y_all[:0],
                                           deadline, cats)
            oof = _oob(estimator, y_all, n_classes)
            bagged = self._candidate(params, dataset, pipeline, estimator)
            note = f"one fit on train + valid ({len(y_all):,} rows); out-of-bag answers as out-of-fold predictions"
        else:
            k = (self.bag_folds if left == float("inf") or one_fit <= 0
                 else min(self.bag_folds, int(left / (one_fit * 0.8))))
            if k < 2:
                return Bag(None, None, None, {},
                           f"not bagged: {left:.1f}s left, one fold fit takes ~{0.8 * one_fit:.1f}s")
            oof = np.zeros((len(y_all), n_classes)) if n_classes else np.zeros(len(y_all))
            models = []
            for i, (fit_rows, held) in enumerate(fold_splits(k, y_all, n_classes is not None, seed)):
                estimator = self.fit_estimator(self.build(params, seed + i), X_all[fit_rows], y_all[fit_rows],
                                               X_all[:0], y_all[:0], deadline, cats)
                oof[held] = fold_predictions(estimator, X_all[held], n_classes)
                models.append(estimator)
            bagged = self._candidate(params, dataset, pipeline, BaggedModel(models, n_classes))
            note = f"{k}-fold bagged over train + valid ({len(y_all):,} rows); figures are out of fold"
        bagged.params = {**params, "bagged": note}
        if n_classes:
            truth = np.asarray(classes, dtype=object)[y_all]
            metrics = compute_metrics(self.task, truth, np.asarray(classes, dtype=object)[oof.argmax(axis=1)], oof,
                                      classes)
        else:
            truth = y_all
            metrics = compute_metrics(self.task, y_all, oof)
        return Bag(bagged, oof, truth, metrics, note)

    def _cv_score(self, params: dict[str, Any], folds: list[tuple[np.ndarray, np.ndarray]], X: Any,
                  X_valid: Any, y: np.ndarray, y_valid: np.ndarray, dataset: dict[str, Any],
                  pipeline: FeaturePipeline | TextPipeline, metric: str, seed: int,
                  deadline: float) -> float | None:
        """`metric` of these parameters on out-of-fold predictions over train + valid (pooled: one
        score over every row, steadier than a mean of small folds). Fold models are uncalibrated
        (calibration does not move the argmax a single-label metric reads)."""
        X_all = sp.vstack([X, X_valid]).tocsr() if sp.issparse(X) else np.concatenate([X, X_valid])
        y_all = np.concatenate([y, y_valid])
        proba = np.zeros((len(y_all), len(dataset.get("classes") or [])))
        candidate = None
        for fit_rows, held_rows in folds:
            estimator = self.fit_estimator(self.build(params, seed), X_all[fit_rows], y_all[fit_rows],
                                           X_all[:0], y_all[:0], deadline, pipeline.categorical_indices_)
            candidate = self._candidate(params, dataset, pipeline, estimator)
            proba[held_rows] = candidate.proba_from_matrix(X_all[held_rows])
        assert candidate is not None
        truth = np.asarray(candidate.classes_, dtype=object)[y_all]
        return compute_metrics(self.task, truth, candidate.labels(proba), proba, candidate.classes_).get(metric)

    def _refit(self, candidate: Candidate, params: dict[str, Any], dataset: dict[str, Any],
               train: pd.DataFrame, y: np.ndarray, valid: pd.DataFrame, y_valid: np.ndarray,
               seed: int) -> Candidate:
        """The chosen parameters fitted again on train and valid together: more rows for the
        delivered model (valid already chose the parameters, the threshold and the calibration)."""
        return self.refit_rows(candidate, dataset, pd.concat([train, valid], ignore_index=True), seed, params)

    def refit_rows(self, candidate: Candidate, dataset: dict[str, Any], rows: pd.DataFrame, seed: int,
                   params: dict[str, Any] | None = None) -> Candidate:
        """`candidate` fitted again on `rows` (its labelled ones) with the parameters it was chosen with;
        threshold and calibration stay those chosen on valid. Only for families with `refit_on_valid`
        (the others stop on validation rows and cannot be fitted without them)."""
        if not self.refit_on_valid:
            raise MofangError(f"{self.family} cannot be refitted without validation rows (it stops early on them)")
        rows, y_all = self._labelled(rows, dataset["target"], dataset.get("classes"), dataset)
        self._prepare(dataset, y_all if not self._multi_label(dataset) else None)
        params = dict(candidate.params if params is None else params)
        pipeline, X_all, _ = self.featurize(dataset["features"], rows, rows.iloc[:0])
        estimator = self.refit_estimator(candidate.estimator_, params, X_all, y_all, seed,
                                         self._multi_label(dataset), pipeline.categorical_indices_)
        refitted = self._candidate(params, dataset, pipeline, estimator)
        refitted.params = {**candidate.params, "refit_rows": len(rows)}
        refitted.threshold_ = candidate.threshold_
        return refitted

    def build_oob(self, params: dict[str, Any], seed: int) -> Any:
        """An unfitted estimator that keeps out-of-bag answers (families with `oob_bagging`)."""
        raise NotImplementedError

    def refit_estimator(self, fitted: Any, params: dict[str, Any], X: Any, y: np.ndarray, seed: int,
                        multi: bool, categorical: list[int]) -> Any:
        """A new estimator with `params` fitted on all of X (no validation rows left to stop on)."""
        estimator = self.build(params, seed)
        if multi and not self.multilabel_native:
            return self.fit_multilabel(estimator, X, y, X[:0], y[:0], float("inf"))
        return self.fit_estimator(estimator, X, y, X[:0], y[:0], float("inf"), categorical)

    def _candidate(self, params: dict[str, Any], dataset: dict[str, Any],
                   pipeline: FeaturePipeline | TextPipeline, estimator: Any) -> Candidate:
        classifier = is_classification(self.task)
        return Candidate(name=self.family, family=self.family, task=self.task, params=params,
                         features=dataset["features"], pipeline=pipeline, estimator=estimator,
                         classes=dataset.get("classes") if classifier else None,
                         multi_label=self._multi_label(dataset),
                         label_separator=dataset.get("label_separator") or "|")

    def _multi_label(self, dataset: dict[str, Any]) -> bool:
        return bool(dataset.get("multi_label")) and is_classification(self.task)

    def _labelled(self, df: pd.DataFrame, target: str, classes: list[str] | None,
                  dataset: dict[str, Any] | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Rows with a usable target, and the target as class indices (classification), a 0/1 matrix
        (multi-label) or floats."""
        df = df.reset_index(drop=True)
        if dataset is not None and self._multi_label(dataset):
            lists = label_lists(df[target], dataset.get("label_separator") or "|")
            keep = np.asarray([bool(labels) for labels in lists], dtype=bool)
            Y = indicator([labels for labels, k in zip(lists, keep, strict=True) if k], classes or [])
            return df[keep].reset_index(drop=True), Y
        if is_classification(self.task):
            codes = pd.Categorical(df[target].where(df[target].isna(), df[target].astype(str)),
                                   categories=classes).codes
            keep = codes >= 0
            return df[keep].reset_index(drop=True), np.asarray(codes[keep], dtype=int)
        values = pd.to_numeric(df[target], errors="coerce").to_numpy(dtype=float)
        keep = ~np.isnan(values)
        return df[keep].reset_index(drop=True), values[keep]


def edge_target(order: Any) -> bool:
    """Whether the order is delivered to the edge (its model must export to ONNX)."""
    deployment = getattr(order, "deployment", None)
    return getattr(deployment, "target", None) == "edge"


IMBALANCED = 0.2  # a binary target whose rarer class is under this share: balanced weights are searched,
# and without a threshold metric in the order the decision threshold is tuned for macro F1
BAG_MARGIN = 1.2  # planned seconds of a bag: this many times its fits as long as the best trial's
BAG_OVERRUN = 1.05  # fold fits may run to this share of the family's budget (the last one is cut there)


@dataclass
class Bag:
    """A bagged candidate with its out-of-fold predictions (probabilities or values) and their truth and
    metrics; `candidate` None with `note` saying why there is none."""

    candidate: Candidate | None
    oof: np.ndarray | None
    truth: np.ndarray | None
    metrics: dict[str, float | None]
    note: str


def _oob(estimator: Any, y_all: np.ndarray, n_classes: int | None) -> np.ndarray:
    """A forest's out-of-bag answers in the shape of out-of-fold predictions (rows no tree left out: the
    mean answer)."""
    if n_classes:
        raw = np.asarray(estimator.oob_decision_function_, dtype=float)
        full = np.zeros((len(y_all), n_classes))
        full[:, np.asarray(estimator.classes_, dtype=int)] = raw
        missing = ~np.isfinite(full).all(axis=1) | (full.sum(axis=1) == 0)
        full[missing] = np.bincount(y_all, minlength=n_classes) / len(y_all)
        return full
    raw = np.asarray(estimator.oob_prediction_, dtype=float)
    return np.where(np.isfinite(raw), raw, float(np.mean(y_all)))


CV_MAX_ROWS = 10_000  # labelled train + valid rows up to which a `cv_folds` family cross-validates its trials
CV_MIN_ROWS_PER_FOLD = 20


def cross_validation_folds(k: int, y: np.ndarray, y_valid: np.ndarray,
                           seed: int) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Stratified folds over train + valid (positions in their concatenation) when a family asks for
    `k` > 0 folds and the labelled rows are few enough for the valid split alone to choose noisily;
    None otherwise (trials are then scored on valid)."""
    rows = len(y) + len(y_valid)
    if k < 2 or y.ndim != 1 or not len(y_valid) or rows > CV_MAX_ROWS or rows < k * CV_MIN_ROWS_PER_FOLD:
        return None
    from sklearn.model_selection import StratifiedKFold

    y_all = np.concatenate([y, y_valid])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class with fewer members than folds: still placed as it can be
        return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(y_all, y_all))


THRESHOLD_METRICS = ("f1_macro", "accuracy", "recall_macro", "precision_macro")


def tune_threshold(positive_proba: np.ndarray, y_true: np.ndarray, classes: list[str], metric: str) -> float:
    """The decision threshold on P(second class) that maximises `metric` on these (validation) rows;
    searched over the 2nd–98th percentiles so a tiny valid split cannot push it to an extreme."""
    candidates = np.unique(np.round(np.quantile(positive_proba, np.linspace(0.02, 0.98, 97)), 4))
    labels = np.asarray(classes, dtype=object)
    best, best_score = 0.5, -np.inf
    for threshold in np.concatenate([[0.5], candidates]):
        y_pred = labels[(positive_proba >= threshold).astype(int)]
        score = label_metrics(y_true, y_pred, classes).get(metric)
        if score is not None and score > best_score + 1e-9:
            best, best_score = float(threshold), score
    return best


def tune_multilabel_threshold(candidate: Candidate, proba: np.ndarray, y_true: np.ndarray,
                              metric: str) -> float:
    """The one threshold on every class's probability that maximises `metric` (or minimises
    hamming_loss) on these (validation) rows; 0.5 when the metric does not depend on it."""
    truth = candidate.truth(y_true)
    direction = task_spec(candidate.task).metrics.get(metric, "higher")
    if metric not in ("f1_micro", "f1_macro", "accuracy", "hamming_loss", "precision_macro", "recall_macro"):
        metric, direction = "f1_micro", "higher"
    best, best_score = 0.5, None
    for threshold in (0.5, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.55, 0.6, 0.7):
        y_pred = candidate.label_lists(proba, threshold)
        score = compute_metrics(candidate.task, truth, y_pred, None, candidate.classes_, multi_label=True).get(metric)
        if score is not None and (best_score is None or (score > best_score + 1e-9 if direction == "higher"
                                                         else score < best_score - 1e-9)):
            best, best_score = float(threshold), score
    return best


def default_metric(task: str, classes: list[str] | None) -> tuple[str, str]:
    """The primary metric when the order names none: the task's `TaskSpec.default_metric` when it declares one;
    else f1_macro for text classes (a task whose model reads text) and multiclass targets, when the task has it;
    else the task's first metric (roc_auc for binary tables, rmse for regression)."""
    found = task_spec(str(getattr(task, "value", task)))
    if found.default_metric is not None:
        name = found.default_metric
    elif found.classes and "f1_macro" in found.metrics and (found.text or (classes is not None and len(classes) > 2)):
        name = "f1_macro"
    else:
        name = next(iter(found.metrics))
    return name, found.metrics[name]


def _fmt(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.4f}"


def _scores(candidate: Candidate, X: Any, y_true: np.ndarray) -> dict[str, float | None]:
    """All task metrics from an already-transformed matrix (no re-coercion per trial)."""
    if candidate.is_classifier:
        proba = candidate.proba_from_matrix(X)
        y_pred = candidate.labels(proba)
        return compute_metrics(candidate.task, candidate.truth(y_true), y_pred, proba, candidate.classes_,
                               multi_label=candidate.is_multi_label)
    return compute_metrics(candidate.task, y_true, candidate.estimator_.predict(X))
