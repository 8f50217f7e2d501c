"""Retrieval metrics: recall@k (hit rate), MRR, and no-answer precision/recall."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence

import numpy as np

KS = (1, 5, 10)
RANK_METRICS = {"recall_at_1": 1, "recall_at_5": 5, "recall_at_10": 10, "mrr": 0}


def first_hit_ranks(ranked: Sequence[Sequence[Hashable]], gold: Sequence[Collection[Hashable]]) -> np.ndarray:
    """For each query, the 1-based rank of its first gold id in its ranked list; 0 when none is listed."""
    if len(ranked) != len(gold):
        raise ValueError(f"{len(ranked)} ranked lists but {len(gold)} gold sets")
    ranks = np.zeros(len(ranked), dtype=int)
    for i, (items, wanted) in enumerate(zip(ranked, gold, strict=True)):
        wanted = set(wanted)
        for position, item in enumerate(items, start=1):
            if item in wanted:
                ranks[i] = position
                break
    return ranks


def recall_at_k(ranked: Sequence[Sequence[Hashable]], gold: Sequence[Collection[Hashable]], k: int) -> float:
    """Share of queries with a gold id among their first `k` results (queries without gold are skipped)."""
    ranks = _answerable_ranks(ranked, gold)
    return float(np.mean((ranks >= 1) & (ranks <= k))) if len(ranks) else float("nan")


def mean_reciprocal_rank(ranked: Sequence[Sequence[Hashable]], gold: Sequence[Collection[Hashable]]) -> float:
    """Mean over queries of 1/rank of the first gold id (0 when none is listed; queries without gold skipped)."""
    ranks = _answerable_ranks(ranked, gold)
    if not len(ranks):
        return float("nan")
    return float(np.mean(np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0)))


def _answerable_ranks(ranked: Sequence[Sequence[Hashable]], gold: Sequence[Collection[Hashable]]) -> np.ndarray:
    keep = [i for i, g in enumerate(gold) if len(g)]
    return first_hit_ranks([ranked[i] for i in keep], [gold[i] for i in keep])


def no_answer_precision_recall(rejected: Sequence[bool], unanswerable: Sequence[bool]) -> tuple[float, float]:
    """(precision, recall) of "no answer": precision = rejected and truly unanswerable / rejected, recall =
    the same / unanswerable. Rejecting nothing gives precision 0 when there was something to reject (1 when
    there was not); recall is 1 when nothing was unanswerable."""
    rejected_a, unanswerable_a = np.asarray(rejected, dtype=bool), np.asarray(unanswerable, dtype=bool)
    if rejected_a.shape != unanswerable_a.shape:
        raise ValueError(f"{rejected_a.size} decisions but {unanswerable_a.size} labels")
    hits = int((rejected_a & unanswerable_a).sum())
    n_rejected, n_unanswerable = int(rejected_a.sum()), int(unanswerable_a.sum())
    precision = hits / n_rejected if n_rejected else (0.0 if n_unanswerable else 1.0)
    recall = hits / n_unanswerable if n_unanswerable else 1.0
    return float(precision), float(recall)


def retrieval_metrics(ranked: Sequence[Sequence[Hashable]], gold: Sequence[Collection[Hashable]],
                      rejected: Sequence[bool] | None = None, unanswerable: Sequence[bool] | None = None,
                      ks: Sequence[int] = KS) -> dict[str, float]:
    """recall_at_k for each k and mrr over the answerable queries (non-empty gold); with `rejected` and
    `unanswerable` (one flag per question of the no-answer set) also no_answer_precision/recall."""
    out = {f"recall_at_{k}": recall_at_k(ranked, gold, k) for k in ks}
    out["mrr"] = mean_reciprocal_rank(ranked, gold)
    if rejected is not None and unanswerable is not None:
        out["no_answer_precision"], out["no_answer_recall"] = no_answer_precision_recall(rejected, unanswerable)
    return out


def ranks_from_scores(scores: np.ndarray, gold: Sequence[Collection[int]], depth: int = 100) -> np.ndarray:
    """`first_hit_ranks` straight from a (queries × passages) score matrix, without sorting: 1 + the number
    of passages scoring above the query's best gold passage (ties in its favour); 0 without gold or when
    that rank is deeper than `depth`."""
    best = np.array([scores[i, list(g)].max() if len(g) else -np.inf for i, g in enumerate(gold)], dtype=float)
    ranks = (scores > best[:, None]).sum(axis=1) + 1
    return np.where(np.isfinite(best) & (ranks <= depth), ranks, 0)


def metric_from_ranks(ranks: np.ndarray, metric: str) -> float:
    """recall_at_1/5/10 or mrr from first-hit ranks (0 = not found)."""
    if metric not in RANK_METRICS:
        raise ValueError(f"unknown retrieval metric {metric!r} (expected one of: {', '.join(RANK_METRICS)})")
    if metric == "mrr":
        return float(np.mean(np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0)))
    k = RANK_METRICS[metric]
    return float(np.mean((ranks >= 1) & (ranks <= k)))
