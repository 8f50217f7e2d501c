"""Fusion: reciprocal ranks and min-max by hand, and a tuned fusion beating both retrievers on a built set."""

from __future__ import annotations

import numpy as np
import pytest

from mofang.tasks.retrieval.models import Fusion, fuse, tune_fusion
from mofang.tasks.retrieval.models.hybrid import minmax, reciprocal_ranks
from mofang.tasks.retrieval.models.metrics import metric_from_ranks, ranks_from_scores


def test_reciprocal_ranks_and_minmax_by_hand():
    rr = reciprocal_ranks(np.array([[0.2, 0.9, 0.5]]), depth=2, k=60)
    assert rr[0].tolist() == pytest.approx([0.0, 1 / 61, 1 / 62])
    assert minmax(np.array([[1.0, 3.0, 2.0], [5.0, 5.0, 5.0]])).tolist() == [[0.0, 1.0, 0.5], [0.0, 0.0, 0.0]]
    a, b = np.array([[0.2, 0.4]]), np.array([[0.8, 0.0]])
    assert fuse(a, b, "weighted", 0.25)[0].tolist() == pytest.approx([0.65, 0.1])
    with pytest.raises(ValueError, match="unknown fusion method"):
        Fusion("max")


def built_scores(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[set[int]]]:
    """Query i's gold is passage i. BM25 puts it first for even queries and third for odd ones; the dense
    retriever the other way round, and each keeps it among its top few, so a mix finds more than either."""
    rng = np.random.default_rng(seed)
    first, second = rng.uniform(0, 0.5, (n, n)), rng.uniform(0, 0.5, (n, n))
    for i in range(n):
        distractors = [(i + 1) % n, (i + 2) % n]
        strong, weak = (first, second) if i % 2 == 0 else (second, first)
        strong[i, i] = 0.9
        weak[i, distractors] = [0.95, 0.93]
        weak[i, i] = 0.85
    return first.astype(np.float32), second.astype(np.float32), [{i} for i in range(n)]


def test_tuned_fusion_is_at_least_the_best_single_retriever():
    first, second, gold = built_scores()

    def mrr(scores: np.ndarray) -> float:
        return metric_from_ranks(ranks_from_scores(scores, gold), "mrr")

    single = max(mrr(first), mrr(second))
    choice = tune_fusion(first, second, mrr)
    assert choice.score >= single
    assert choice.score > single + 0.2 and 0.0 < choice.fusion.weight < 1.0  # here it is much better
    assert choice.tried[("rrf", 1.0)] == pytest.approx(mrr(first))  # weight 1 is the first retriever alone
    assert mrr(choice.fusion(first, second)) == pytest.approx(choice.score)
