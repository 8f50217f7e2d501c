"""CalibratedLinear: a linear SVM or logistic model on sparse text features with calibrated probabilities."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit, log_softmax, softmax
from sklearn.base import BaseEstimator, ClassifierMixin

Loss = Literal["svm", "logistic"]
DEFAULT_SCALE = {"svm": 4.0, "logistic": 1.0}  # used when there are no rows to calibrate on


class CalibratedLinear(ClassifierMixin, BaseEstimator):
    """One-vs-rest linear scores (liblinear) turned into probabilities on held-out rows.

    `y` is either class indices (single-label) or a 0/1 matrix (multi-label). Single-label with more
    than two classes: softmax of the scores divided by one temperature fitted on the calibration
    rows (the argmax, hence accuracy and F1, is unchanged). Binary and multi-label: Platt scaling
    (a sigmoid with its own slope and offset per class). The coefficients are kept as float32 and
    the scores computed directly (half the size of the fitted liblinear models, same numbers).
    """

    def __init__(self, loss: Loss = "svm", C: float = 1.0, class_weight: str | None = None,
                 max_iter: int = 2000, seed: int = 0) -> None:
        self.loss = loss
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X: Any, y: np.ndarray, X_cal: Any = None, y_cal: np.ndarray | None = None) -> CalibratedLinear:
        y = np.asarray(y)
        self.multi_label_ = y.ndim == 2
        if self.multi_label_:
            self.classes_ = np.arange(y.shape[1])
            columns = [y[:, k] for k in range(y.shape[1])]
        else:
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError("a linear text model needs at least two classes in the training rows")
            columns = ([(y == self.classes_[1]).astype(int)] if len(self.classes_) == 2
                       else [(y == c).astype(int) for c in self.classes_])
        coefs, intercepts = [], []
        if self.loss == "svm" and not self.multi_label_ and len(self.classes_) > 2:
            model = self._model()  # liblinear one-vs-rest in one call: the data is converted once
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X, y)
            columns, coefs, intercepts = [], list(model.coef_), list(model.intercept_)
        for column in columns:
            coef, intercept = self._binary(X, column)
            coefs.append(coef)
            intercepts.append(intercept)
        self.coef_ = np.vstack(coefs).astype(np.float32)
        self.intercept_ = np.asarray(intercepts, dtype=np.float32)
        self.calibrate(X_cal, y_cal)
        return self

    def _binary(self, X: Any, y: np.ndarray) -> tuple[np.ndarray, float]:
        """Coefficients of one class against the rest (a constant when y has one value)."""
        if y.min() == y.max():
            return np.zeros(X.shape[1]), (8.0 if y[0] else -8.0)
        model = self._model()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: the scores are still usable
            model.fit(X, y)
        return np.asarray(model.coef_, dtype=float).ravel(), float(np.ravel(model.intercept_)[0])

    def _model(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.svm import LinearSVC

        if self.loss == "svm":
            return LinearSVC(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                             random_state=self.seed)
        return LogisticRegression(C=self.C, solver="liblinear", class_weight=self.class_weight,
                                  max_iter=self.max_iter, random_state=self.seed)

    # -- calibration -----------------------------------------------------------------------------
    def calibrate(self, X: Any, y: np.ndarray | None) -> CalibratedLinear:
        """Fit the temperature (multiclass) or per-class Platt slopes and offsets on these rows."""
        k = self.coef_.shape[0]
        default = DEFAULT_SCALE[self.loss]
        self.scale_ = np.full(k, default)
        self.offset_ = np.zeros(k)
        if X is None or y is None or X.shape[0] < 10:
            return self
        scores = self.decision_function(X)
        y = np.asarray(y)
        if self.multi_label_ or len(self.classes_) == 2:
            targets = y if self.multi_label_ else (y == self.classes_[1]).astype(int)[:, None]
            for j in range(k):
                self.scale_[j], self.offset_[j] = _platt(scores[:, j], targets[:, j], default)
        else:
            index = np.searchsorted(self.classes_, y)
            known = (index < len(self.classes_)) & (self.classes_[np.minimum(index, len(self.classes_) - 1)] == y)
            if known.sum() >= 10:
                self.scale_[:] = _temperature(scores[known], index[known], default)
        return self

    # -- predicting ------------------------------------------------------------------------------
    def decision_function(self, X: Any) -> np.ndarray:
        """Scores, shape (n, classes) — (n, 1) for a binary model."""
        scores = X @ self.coef_.T if sp.issparse(X) else np.asarray(X, dtype=np.float32) @ self.coef_.T
        return np.asarray(scores, dtype=float) + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X) * self.scale_ + self.offset_
        if self.multi_label_:
            return expit(scores)
        if len(self.classes_) == 2:
            positive = expit(scores[:, 0])
            return np.column_stack([1.0 - positive, positive])
        return softmax(scores, axis=1)

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)
        if self.multi_label_:
            return (proba >= 0.5).astype(int)
        return self.classes_[proba.argmax(axis=1)]


def _platt(score: np.ndarray, y: np.ndarray, default: float) -> tuple[float, float]:
    """Slope and offset of P(y=1) = sigmoid(a·score + b) by maximum likelihood (a kept positive)."""
    if y.min() == y.max():
        return default, 0.0

    def loss(params: np.ndarray) -> float:
        z = params[0] * score + params[1]
        return float(np.mean(np.logaddexp(0.0, z) - y * z))

    found = minimize(loss, np.array([default, 0.0]), method="L-BFGS-B", bounds=[(1e-3, 100.0), (-20.0, 20.0)])
    return float(found.x[0]), float(found.x[1])


def _temperature(scores: np.ndarray, index: np.ndarray, default: float) -> float:
    """The inverse temperature a that minimises the log loss of softmax(a·scores)."""
    def loss(params: np.ndarray) -> float:
        return float(-np.mean(log_softmax(params[0] * scores, axis=1)[np.arange(len(index)), index]))

    found = minimize(loss, np.array([default]), method="L-BFGS-B", bounds=[(1e-3, 100.0)])
    return float(found.x[0])
