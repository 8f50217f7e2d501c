"""k-fold bagging: one estimator per fold, answering as the mean of its fold models; their out-of-fold
predictions are what the ensemble and the decision threshold are chosen on."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mofang.models.features import SMALL_BATCH


class BaggedModel:
    """The fold models of one family and parameters, each fitted on k-1 folds of train + valid; predicts
    their mean (classification: probabilities over all `n_classes`, placed by each model's own classes)."""

    def __init__(self, estimators: list[Any], n_classes: int | None) -> None:
        self.estimators_ = list(estimators)
        self.n_classes = n_classes

    def predict_proba(self, X: Any) -> np.ndarray:
        assert self.n_classes is not None, "a regression bag has no probabilities"
        total = np.zeros((X.shape[0], self.n_classes))
        for estimator in self.estimators_:
            total += _full_proba(estimator, X, self.n_classes)
        return total / len(self.estimators_)

    def predict(self, X: Any) -> np.ndarray:
        if self.n_classes is not None:
            return self.predict_proba(X).argmax(axis=1)
        return np.mean([_predict(e, X) for e in self.estimators_], axis=0)

    @property
    def feature_importances_(self) -> np.ndarray | None:
        from mofang.models.candidate import _raw_importance

        found = [_raw_importance(e) for e in self.estimators_]
        found = [f for f in found if f is not None]
        if not found or len({len(f) for f in found}) != 1:
            return None
        return np.mean(found, axis=0)


def _booster(estimator: Any, X: Any) -> Any:
    """LightGBM's booster for a served-size batch (skips the sklearn wrapper's checks, one thread)."""
    if X.shape[0] > SMALL_BATCH:
        return None
    return getattr(estimator, "booster_", None)


def _full_proba(estimator: Any, X: Any, n_classes: int) -> np.ndarray:
    booster = _booster(estimator, X)
    if booster is not None:
        raw = np.asarray(booster.predict(X, num_threads=1), dtype=float)
        if raw.ndim == 1:
            raw = np.column_stack([1.0 - raw, raw])
    else:
        raw = np.asarray(estimator.predict_proba(X), dtype=float)
    known = getattr(estimator, "classes_", None)
    if raw.shape[1] == n_classes and known is None:
        return raw
    known = np.arange(raw.shape[1]) if known is None else np.asarray(known, dtype=int)
    full = np.zeros((raw.shape[0], n_classes))
    full[:, known] = raw
    return full


def _predict(estimator: Any, X: Any) -> np.ndarray:
    booster = _booster(estimator, X)
    if booster is not None:
        return np.asarray(booster.predict(X, num_threads=1), dtype=float)
    return np.asarray(estimator.predict(X), dtype=float)


def fold_splits(k: int, y: np.ndarray, classifier: bool, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k shuffled folds over the rows (stratified by class for classification)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a class with fewer members than folds: placed as it can be
        if classifier:
            return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(y, y))
        return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(y))


def fold_predictions(estimator: Any, X: Any, n_classes: int | None) -> np.ndarray:
    """One fold model's answers on its held-out rows: probabilities over all classes, or values."""
    return _full_proba(estimator, X, n_classes) if n_classes is not None else _predict(estimator, X)
