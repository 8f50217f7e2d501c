"""The baseline family: a dummy model (class prior / mean) every other candidate must beat."""

from __future__ import annotations

from typing import Any

from sklearn.dummy import DummyClassifier, DummyRegressor

from mofang.models.registry import trainer
from mofang.models.trainers.base import Trainer


@trainer("tabular-classification", "dummy")
class PriorClassifier(Trainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return DummyClassifier(strategy="prior")


@trainer("tabular-regression", "dummy")
class MeanRegressor(Trainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return DummyRegressor(strategy="mean")
