"""A Gaussian copula over numeric and categorical columns: empirical marginals tied by correlated normal scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

SHRINK = 0.05  # pulls the correlation towards the identity so that it stays positive definite on small groups


@dataclass
class GaussianCopula:
    """Fitted state: per numeric column its sorted real values, missing share and whether it is whole-numbered;
    per categorical column its codes and cumulative frequencies; the correlation of the normal scores."""

    values: list[np.ndarray]
    missing: np.ndarray
    whole: list[bool]
    codes: list[np.ndarray]
    cumulative: list[np.ndarray]
    correlation: np.ndarray


def fit_copula(numeric: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> GaussianCopula:
    """Fit on n rows of numeric values (NaN missing) and integer category codes. A numeric value's normal score
    comes from its rank, a missing one scores 0 (the median); a category's score is drawn inside the band of
    the unit interval its frequency takes, so the scores of all columns can be correlated."""
    n = numeric.shape[0]
    scores, values, whole, missing = [], [], [], []
    for column in numeric.T:
        finite = np.isfinite(column)
        ranks = np.argsort(np.argsort(column[finite], kind="stable"), kind="stable")
        score = np.zeros(n)
        score[finite] = ndtri((ranks + 0.5) / max(finite.sum(), 1))
        scores.append(score)
        values.append(np.sort(column[finite]))
        whole.append(bool(np.all(np.mod(column[finite], 1) == 0)))
        missing.append(1.0 - finite.mean() if n else 0.0)
    kept_codes, cumulative = [], []
    for column in codes.T:
        unique, counts = np.unique(column, return_counts=True)
        upper = np.cumsum(counts) / n
        lower = upper - counts / n
        at = np.searchsorted(unique, column)
        scores.append(ndtri(np.clip(lower[at] + rng.random(n) * (upper[at] - lower[at]), 1e-6, 1 - 1e-6)))
        kept_codes.append(unique)
        cumulative.append(upper)
    matrix = np.column_stack(scores) if scores else np.zeros((n, 0))
    d = matrix.shape[1]
    if n > 2 and d > 1:
        correlation = np.nan_to_num(np.corrcoef(matrix, rowvar=False))
    else:
        correlation = np.eye(d)
    np.fill_diagonal(correlation, 1.0)
    correlation = (1 - SHRINK) * correlation + SHRINK * np.eye(d)
    return GaussianCopula(values, np.array(missing), whole, kept_codes, cumulative, correlation)


def sample_copula(model: GaussianCopula, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n new rows: numeric values read off the empirical quantiles (interpolated between real values, whole where
    the column is, missing at the real rate) and category codes, both from correlated normal scores."""
    d = model.correlation.shape[0]
    scores = rng.standard_normal((n, d)) @ np.linalg.cholesky(model.correlation).T if d else np.zeros((n, 0))
    u = ndtr(scores)
    numeric = np.full((n, len(model.values)), np.nan)
    for i, (values, whole) in enumerate(zip(model.values, model.whole, strict=True)):
        if values.size:
            column = np.quantile(values, u[:, i], method="linear")
            numeric[:, i] = np.round(column) if whole else column
        numeric[rng.random(n) < model.missing[i], i] = np.nan
    offset = len(model.values)
    codes = np.zeros((n, len(model.codes)), dtype=np.int64)
    for j, (unique, upper) in enumerate(zip(model.codes, model.cumulative, strict=True)):
        codes[:, j] = unique[np.minimum(np.searchsorted(upper, u[:, offset + j]), unique.size - 1)]
    return numeric, codes
