"""Ensembles of trained candidates: soft voting chosen greedily on validation log loss (`greedy_blend`), or
weights chosen by Caruana's greedy selection with replacement on out-of-fold predictions (`caruana`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mofang.core.metrics.predictive import compute_metrics
from mofang.models.candidate import Candidate

MAX_MEMBERS = 3
# the ensemble may trail the best single candidate's primary metric on valid by this much: that candidate's
# score is the best of up to 40 trials on the same rows, so it is biased upwards (on waimai_10k a blend
# 0.0065 behind on valid F1 was 0.006 ahead on test; on TNEWS 0.008 behind, 0.015 ahead)
TOLERANCE = 0.02


class EnsembleCandidate(Candidate):
    """The (weighted) mean of its members' class probabilities, or of their values for regression; each
    member reads the raw rows with its own pipeline."""

    def __init__(self, members: Sequence[Candidate], name: str = "ensemble",
                 weights: Sequence[float] | None = None) -> None:
        first = members[0]
        features: dict[str, dict[str, Any]] = {}
        for member in members:
            for feature in member.features:
                features.setdefault(feature["name"], feature)
        super().__init__(name=name, family="ensemble", task=first.task,
                         params={"members": [m.name for m in members]}, features=list(features.values()),
                         pipeline=None, estimator=None, classes=first.classes_)
        self.members_ = list(members)
        self.weights_ = None if weights is None else [float(w) for w in weights]
        if self.weights_ is not None:
            self.params["weights"] = [round(w, 4) for w in self.weights_]

    def _mean(self, answers: list[np.ndarray]) -> np.ndarray:
        weights = getattr(self, "weights_", None)  # ensembles saved before weights: the plain mean
        return np.average(answers, axis=0, weights=weights)

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        return self._mean([m.predict_proba(df) for m in self.members_])

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        if self.is_classifier:
            return self.labels(self.predict_proba(df))
        return self._mean([m.predict(df) for m in self.members_])

    def proba_from_matrix(self, X: Any) -> np.ndarray:
        raise TypeError("an ensemble reads raw rows (each member has its own features): use predict_proba")

    def feature_importance(self) -> dict[str, float]:
        return {}


@dataclass
class Blend:
    """A chosen ensemble: member names, its mean validation probabilities and their metrics."""

    members: list[str]
    proba: np.ndarray
    metrics: dict[str, float | None]


def greedy_blend(probas: dict[str, np.ndarray], truth: np.ndarray, classes: list[str], task: str,
                 max_members: int = MAX_MEMBERS) -> Blend | None:
    """Start from the member with the lowest validation log loss and add, one at a time, the member
    that lowers the log loss of the mean probabilities most; stop when none does. None when the best
    blend is a single member. (Log loss is a proper score: on a few hundred validation rows it ranks
    blends far more steadily than F1.)"""
    def score(names: list[str]) -> tuple[float, dict[str, float | None], np.ndarray]:
        proba = np.mean([probas[n] for n in names], axis=0)
        labels = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
        metrics = compute_metrics(task, truth, labels, proba, classes)
        loss = metrics.get("log_loss")
        return (np.inf if loss is None else float(loss)), metrics, proba

    scored = {name: score([name])[0] for name in probas}
    chosen = [min(scored, key=scored.__getitem__)]
    best_loss = scored[chosen[0]]
    while len(chosen) < max_members:
        trials = {name: score([*chosen, name])[0] for name in probas if name not in chosen}
        if not trials:
            break
        name = min(trials, key=trials.__getitem__)
        if not trials[name] < best_loss - 1e-6:
            break
        chosen.append(name)
        best_loss = trials[name]
    if len(chosen) < 2:
        return None
    _, metrics, proba = score(chosen)
    return Blend(chosen, proba, metrics)


CARUANA_ROUNDS = 40  # additions with replacement (weights in steps of 1/40 at most)
CARUANA_PATIENCE = 10  # rounds without a better score before the selection stops


@dataclass
class Weighted:
    """A Caruana ensemble: members with their weights (summing to 1), its out-of-fold predictions and score."""

    weights: dict[str, float]
    prediction: np.ndarray
    score: float


def caruana(predictions: dict[str, np.ndarray], score: Callable[[np.ndarray], float], direction: str,
            rounds: int = CARUANA_ROUNDS) -> Weighted | None:
    """Caruana et al.'s ensemble selection: start empty and add, with replacement, the member whose addition
    gives the best `score` of the averaged predictions (out of fold, so no member is favoured by having seen
    the rows); keep the best mix seen. None when that mix is a single member."""
    def better(a: float, b: float) -> bool:
        return a > b + 1e-9 if direction == "higher" else a < b - 1e-9

    names = sorted(predictions)
    counts = dict.fromkeys(names, 0)
    total: np.ndarray | None = None  # the sum of the predictions added so far
    best: tuple[float, dict[str, int]] | None = None
    since = 0
    for n in range(1, rounds + 1):
        value, name = None, names[0]
        for candidate in names:
            mix = predictions[candidate] if total is None else (total + predictions[candidate]) / n
            found = score(mix)
            if value is None or better(found, value):
                value, name = found, candidate
        assert value is not None
        total = predictions[name].astype(float) if total is None else total + predictions[name]
        counts[name] += 1
        if best is None or better(value, best[0]):
            best, since = (value, dict(counts)), 0
        else:
            since += 1
            if since >= CARUANA_PATIENCE:
                break
    assert best is not None
    chosen = {k: v for k, v in best[1].items() if v}
    if len(chosen) < 2:
        return None
    added = sum(chosen.values())
    weights = {k: v / added for k, v in chosen.items()}
    prediction = np.sum([w * predictions[k] for k, w in weights.items()], axis=0)
    return Weighted(weights, prediction, best[0])


@dataclass
class Scorer:
    """What Caruana's selection optimises: `score(prediction)` of out-of-fold predictions, and its direction."""

    name: str
    direction: str
    score: Callable[[np.ndarray], float]


def oof_scorer(task: str, metric: str, direction: str, truth: np.ndarray, classes: list[str] | None) -> Scorer:
    """A fast scorer of out-of-fold predictions for the order's metric: ranking and regression metrics as they
    are; for a metric read from labels (F1, accuracy) the log loss, which moves smoothly with the weights
    (the threshold is tuned on the chosen mix afterwards)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    if not classes:
        y = np.asarray(truth, dtype=float)

        def regression(p: np.ndarray) -> float:
            error = p - y
            if metric == "mae":
                return float(np.mean(np.abs(error)))
            if metric == "r2":
                return float(1.0 - np.sum(error ** 2) / max(np.sum((y - y.mean()) ** 2), 1e-12))
            if metric == "mape":
                return float(np.mean(np.abs(error) / np.maximum(np.abs(y), 1e-9)))
            return float(np.sqrt(np.mean(error ** 2)))

        name = metric if metric in ("rmse", "mae", "r2", "mape") else "rmse"
        return Scorer(name, direction if name == metric else "lower", regression)
    index = {c: k for k, c in enumerate(classes)}
    y_index = np.asarray([index.get(str(v), -1) for v in truth])
    known = y_index >= 0
    positive = y_index == 1
    if len(classes) == 2 and metric == "roc_auc" and 0 < positive.sum() < len(positive):
        return Scorer("roc_auc", "higher", lambda p: float(roc_auc_score(positive, p[:, 1])))
    if len(classes) == 2 and metric == "pr_auc" and 0 < positive.sum() < len(positive):
        return Scorer("pr_auc", "higher", lambda p: float(average_precision_score(positive, p[:, 1])))

    def log_loss(p: np.ndarray) -> float:
        rows = p[known]
        chosen = rows[np.arange(len(rows)), y_index[known]] / np.clip(rows.sum(axis=1), 1e-15, None)
        return float(-np.mean(np.log(np.clip(chosen, 1e-15, 1.0))))

    return Scorer("log_loss", "lower", log_loss)
