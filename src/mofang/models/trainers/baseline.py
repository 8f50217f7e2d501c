"""The baseline family: a dummy model (class prior / mean) every other candidate must beat."""

from __future__ import annotations

from typing import Any

from sklearn.dummy import DummyClassifier, DummyRegressor

from mofang.models.trainers.base import Trainer


class PriorClassifier(Trainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return DummyClassifier(strategy="prior")


class MeanRegressor(Trainer):
    def build(self, params: dict[str, Any], seed: int) -> Any:
        return DummyRegressor(strategy="mean")
