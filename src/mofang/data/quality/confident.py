"""Confident learning: out-of-fold class probabilities and the rows whose given label they contradict."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.base import ClassifierMixin
from sklearn.model_selection import StratifiedKFold, cross_val_predict


def out_of_fold_probabilities(model: ClassifierMixin, features: np.ndarray | sparse.spmatrix, labels: np.ndarray, *,
                              folds: int = 5, seed: int = 42) -> np.ndarray:
    """Class probabilities for every row from a model that never saw it (stratified, shuffled, seeded folds);
    columns follow the sorted class labels."""
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return cross_val_predict(model, features, labels, cv=cv, method="predict_proba")


@dataclass
class LabelIssues:
    """Suspect rows (positions, most suspicious first) with the label the model suggests for each."""

    positions: np.ndarray
    suggested: np.ndarray  # class index per suspect
    margin: np.ndarray  # p(suggested) - p(given), per suspect: larger is more suspicious
    thresholds: np.ndarray  # per class: mean self-confidence of the rows given that class
    joint: np.ndarray  # confident joint: rows given class i (row) confidently belonging to class j (column)


def find_label_issues(given: np.ndarray, probabilities: np.ndarray) -> LabelIssues:
    """Off-diagonal rows of the confident joint: the given label's probability is below its class threshold
    and another class is above its own; that class (the most probable such one) is the suggestion."""
    n, k = probabilities.shape
    rows = np.arange(n)
    thresholds = np.array([probabilities[given == j, j].mean() if (given == j).any() else 1.0 for j in range(k)])
    above = probabilities >= thresholds[None, :]
    confident = np.where(above, probabilities, -1.0)
    best = confident.argmax(axis=1)
    has_any = above.any(axis=1)
    joint = np.zeros((k, k), dtype=np.int64)
    np.add.at(joint, (given[has_any], best[has_any]), 1)
    others = np.where(above, probabilities, -1.0)
    others[rows, given] = -1.0
    other_best = others.argmax(axis=1)
    suspect = (probabilities[rows, given] < thresholds[given]) & (others[rows, other_best] >= 0)
    positions = np.flatnonzero(suspect)
    margin = probabilities[positions, other_best[positions]] - probabilities[positions, given[positions]]
    order = np.argsort(-margin, kind="stable")
    return LabelIssues(positions=positions[order], suggested=other_best[positions][order], margin=margin[order],
                       thresholds=thresholds, joint=joint)
