"""Train/valid/test split: stratified for classification, random for regression, seeded."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mofang.errors import DataError

SHARES = (0.70, 0.15, 0.15)
MIN_ROWS = 30
MIN_CLASS_ROWS = 3  # one row each for train, valid and test


@dataclass
class Split:
    """Row positions of each part, and the classes too small to evaluate (kept in train only)."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    rare_classes: dict[str, int] = field(default_factory=dict)


def split_rows(target: pd.Series, classification: bool, seed: int) -> Split:
    """Split positions 0..n-1; raise DataError when too few rows remain to train and evaluate."""
    n = len(target)
    if n < MIN_ROWS:
        raise DataError(f"only {n} usable rows remain; at least {MIN_ROWS} are needed to train, "
                        "validate and test a model")
    rng = np.random.default_rng(seed)
    if not classification:
        train, valid, test = _cut(rng.permutation(n))
        return Split(train, valid, test)
    parts: list[list[np.ndarray]] = [[], [], []]
    rare: dict[str, int] = {}
    counts = target.value_counts()
    labels = target.to_numpy()
    for label in sorted(counts.index):
        rows = np.flatnonzero(labels == label)
        if len(rows) < MIN_CLASS_ROWS:
            rare[str(label)] = len(rows)
            parts[0].append(rows)
            continue
        for part, chosen in zip(parts, _cut(rng.permutation(rows)), strict=True):
            part.append(chosen)
    evaluable = len(counts) - len(rare)
    if evaluable < 2:
        raise DataError(f"the target needs at least 2 classes with {MIN_CLASS_ROWS}+ rows to train and "
                        f"evaluate; class counts: {dict(counts.astype(int))}")
    train, valid, test = (np.sort(np.concatenate(p)) for p in parts)
    return Split(train, valid, test, rare)


def _cut(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(rows)
    n_test = max(1, int(round(SHARES[2] * n)))
    n_valid = max(1, int(round(SHARES[1] * n)))
    return rows[n_test + n_valid:], rows[n_test:n_test + n_valid], rows[:n_test]
