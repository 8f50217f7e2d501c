"""The text baseline: the class prior (every other text candidate must beat it)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.dummy import DummyClassifier

from mofang.models.text.trainer import TextTrainer


class PriorModel:
    """Class (or per-label) frequencies of the training rows, whatever the input."""

    def fit(self, X: Any, y: np.ndarray) -> PriorModel:
        y = np.asarray(y)
        if y.ndim == 2:
            self.classes_ = np.arange(y.shape[1])
            self.prior_ = y.mean(axis=0)
        else:
            dummy = DummyClassifier(strategy="prior").fit(np.zeros((len(y), 1)), y)
            self.classes_, self.prior_ = dummy.classes_, np.asarray(dummy.class_prior_, dtype=float)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        return np.tile(self.prior_, (X.shape[0], 1))


class TextPriorTrainer(TextTrainer):
    mode = "text-raw"
    multilabel_native = True

    def build(self, params: dict[str, Any], seed: int) -> Any:
        return PriorModel()
