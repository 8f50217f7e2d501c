"""Fusion of two retrievers' scores (BM25 + dense): reciprocal-rank, weighted min-max and weighted raw."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mofang.tasks.retrieval.models.bm25 import top_k

METHODS = ("rrf", "minmax", "weighted")
WEIGHTS = tuple(round(w, 2) for w in np.linspace(0.0, 1.0, 11))
RRF_K = 60  # the constant of Cormack et al. (2009)


@dataclass
class Fusion:
    """How two score matrices (same queries × same passages) become one ranking.

    - `rrf`: weight·1/(K + rank₁) + (1 − weight)·1/(K + rank₂) over each list's first `depth` passages;
    - `minmax`: each query's scores rescaled to [0, 1] per retriever, then weight·s₁ + (1 − weight)·s₂;
    - `weighted`: weight·s₁ + (1 − weight)·s₂ on the scores as they are (bounded BM25 and cosine share a
      scale, so this keeps the absolute level a no-answer threshold needs).
    `weight` is the share of the first retriever (BM25 by convention).
    """

    method: str = "rrf"
    weight: float = 0.5
    depth: int = 100

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown fusion method {self.method!r} (expected one of: {', '.join(METHODS)})")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"fusion weight must lie in [0, 1], got {self.weight}")

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        return fuse(first, second, self.method, self.weight, self.depth)

    def describe(self) -> str:
        return f"{self.method} (weight {self.weight:.2f} on the first)"


def fuse(first: np.ndarray, second: np.ndarray, method: str, weight: float, depth: int = 100) -> np.ndarray:
    """Fused scores of two (queries × passages) matrices; higher is better."""
    if first.shape != second.shape:
        raise ValueError(f"score matrices differ in shape: {first.shape} vs {second.shape}")
    if method == "rrf":
        return weight * reciprocal_ranks(first, depth) + (1.0 - weight) * reciprocal_ranks(second, depth)
    if method == "minmax":
        return weight * minmax(first) + (1.0 - weight) * minmax(second)
    if method == "weighted":
        return (weight * first + (1.0 - weight) * second).astype(np.float32)
    raise ValueError(f"unknown fusion method {method!r} (expected one of: {', '.join(METHODS)})")


def reciprocal_ranks(scores: np.ndarray, depth: int = 100, k: int = RRF_K) -> np.ndarray:
    """1/(k + rank) for each query's first `depth` passages (rank from 1), 0 for the rest."""
    scores = np.atleast_2d(scores)
    index, _ = top_k(scores, depth)
    out = np.zeros(scores.shape, dtype=np.float32)
    ranks = np.arange(1, index.shape[1] + 1, dtype=np.float32)
    np.put_along_axis(out, index, np.broadcast_to(1.0 / (k + ranks), index.shape), axis=1)
    return out


def minmax(scores: np.ndarray) -> np.ndarray:
    """Each row rescaled to [0, 1] (a constant row becomes 0)."""
    scores = np.atleast_2d(scores).astype(np.float32)
    low = scores.min(axis=1, keepdims=True)
    span = scores.max(axis=1, keepdims=True) - low
    return np.where(span > 0, (scores - low) / np.where(span > 0, span, 1.0), 0.0).astype(np.float32)


@dataclass
class FusionChoice:
    """The fusion picked on validation, its score, and every setting tried (method, weight) → score."""

    fusion: Fusion
    score: float
    tried: dict[tuple[str, float], float] = field(default_factory=dict)


def tune_fusion(first: np.ndarray, second: np.ndarray, objective: Callable[[np.ndarray], float],
                methods: Sequence[str] = METHODS, weights: Sequence[float] = WEIGHTS,
                depth: int = 100) -> FusionChoice:
    """Try every method × weight on validation scores and keep the best `objective(fused)` (e.g. MRR).

    Ties go to the weight nearest 0.5 (the least extreme mix), then to the earlier method."""
    tried: dict[tuple[str, float], float] = {}
    # rank lists are computed once per retriever, not once per weight
    cache = {"rrf": (reciprocal_ranks(first, depth), reciprocal_ranks(second, depth)),
             "minmax": (minmax(first), minmax(second)), "weighted": (first, second)}
    best: tuple[float, float, int] | None = None
    chosen = Fusion()
    for m_index, method in enumerate(methods):
        a, b = cache[method]
        for weight in weights:
            score = float(objective(weight * a + (1.0 - weight) * b))
            tried[(method, float(weight))] = score
            key = (score, -abs(weight - 0.5), -m_index)
            if best is None or key > best:
                best, chosen = key, Fusion(method, float(weight), depth)
    return FusionChoice(chosen, best[0] if best else float("nan"), tried)
