"""LsaClassifier: sparse TF-IDF → truncated SVD sentence vectors (L2-normalized) → logistic regression."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import TruncatedSVD
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits


class LsaClassifier(ClassifierMixin, BaseEstimator):
    """Latent semantic analysis as a small, local embedding model (nothing downloaded).

    The SVD is fitted on at most `max_svd_rows` rows (its cost grows with rows × n-grams; the topics of
    a few thousand texts are stable), the logistic head on every row's vector. `y` is class indices,
    or a 0/1 matrix for multi-label (one logistic model per class).
    """

    def __init__(self, dims: int = 256, C: float = 10.0, max_svd_rows: int = 6000, max_iter: int = 300,
                 seed: int = 0) -> None:
        self.dims = dims
        self.C = C
        self.max_svd_rows = max_svd_rows
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X: Any, y: np.ndarray) -> LsaClassifier:
        # one BLAS thread: on a busy 2-core machine OpenBLAS's spinning threads made the SVD 15x slower
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(X, np.asarray(y))

    def _fit(self, X: Any, y: np.ndarray) -> LsaClassifier:
        rows = X.shape[0]
        pick = (np.random.default_rng(self.seed).choice(rows, self.max_svd_rows, replace=False)
                if rows > self.max_svd_rows else slice(None))
        dims = max(2, min(self.dims, X.shape[1] - 1, min(rows, self.max_svd_rows) - 1))
        svd = TruncatedSVD(dims, algorithm="randomized", n_iter=4, random_state=self.seed).fit(X[pick])
        self.components_ = svd.components_.T.astype(np.float32)  # n-grams × dims; float32 halves the size
        head = LogisticRegression(C=self.C, max_iter=self.max_iter)
        self.head_ = OneVsRestClassifier(head) if y.ndim == 2 else head
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning: the head is still usable
            self.head_.fit(self.embed(X), y)
        self.classes_ = self.head_.classes_
        return self

    def embed(self, X: Any) -> np.ndarray:
        """The L2-normalized LSA vector of each row."""
        return normalize(np.asarray(X @ self.components_, dtype=np.float32))

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.head_.predict_proba(self.embed(X))

    def predict(self, X: Any) -> np.ndarray:
        return self.head_.predict(self.embed(X))
