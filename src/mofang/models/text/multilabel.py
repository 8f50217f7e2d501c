"""OneVsRest: one binary model per label, fitted in turn within a deadline (multi-label text families)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

FitOne = Callable[[Any, Any, np.ndarray, Any, np.ndarray, float], Any]


class OneVsRest(ClassifierMixin, BaseEstimator):
    """Binary models, one per column of a 0/1 label matrix. Unlike scikit-learn's OneVsRestClassifier,
    each fit gets an equal share of the time left (so early stopping and deadline callbacks work) and
    its own validation column; a label constant in training gets its training rate."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, X: Any, Y: np.ndarray, X_valid: Any = None, Y_valid: np.ndarray | None = None,
            deadline: float = float("inf"), fit_one: FitOne | None = None) -> OneVsRest:
        """`fit_one(model, X, y, X_valid, y_valid, deadline)` fits one binary model (default: model.fit)."""
        fit_one = fit_one or (lambda model, X, y, *_: model.fit(X, y))
        Y = np.asarray(Y)
        labels = Y.shape[1]
        self.classes_ = np.arange(labels)
        self.estimators_: list[Any] = []
        for k in range(labels):
            column = Y[:, k]
            if column.min() == column.max():
                self.estimators_.append(float(column[0]))
                continue
            share = (deadline - time.monotonic()) / (labels - k)
            valid = None if Y_valid is None else np.asarray(Y_valid)[:, k]
            self.estimators_.append(fit_one(clone(self.estimator), X, column, X_valid, valid,
                                            time.monotonic() + max(share, 0.0)))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        n = X.shape[0]
        columns = [np.full(n, e) if isinstance(e, float) else _positive(e, X) for e in self.estimators_]
        return np.column_stack(columns) if columns else np.zeros((n, 0))

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(int)


def _positive(estimator: Any, X: Any) -> np.ndarray:
    """P(label) from a binary model (its classes are 0 and 1, or just one of them)."""
    proba = np.asarray(estimator.predict_proba(X), dtype=float)
    classes = list(getattr(estimator, "classes_", [0, 1]))
    return proba[:, classes.index(1)] if 1 in classes else np.zeros(X.shape[0])
