"""Retrieval metrics and the no-answer calibration on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from mofang.tasks.retrieval.models import calibrate, mean_reciprocal_rank, no_answer_precision_recall, recall_at_k
from mofang.tasks.retrieval.models.metrics import first_hit_ranks, retrieval_metrics

RANKED = [["a", "b", "c"], ["x", "y", "z"], ["p", "q", "r"], ["d", "e", "f"]]
GOLD = [{"b"}, {"z", "y"}, {"nope"}, {"d"}]  # first hits at ranks 2, 2, none, 1


def test_first_hit_ranks_recall_and_mrr_by_hand():
    assert first_hit_ranks(RANKED, GOLD).tolist() == [2, 2, 0, 1]
    assert recall_at_k(RANKED, GOLD, 1) == pytest.approx(1 / 4)
    assert recall_at_k(RANKED, GOLD, 2) == pytest.approx(3 / 4)
    assert recall_at_k(RANKED, GOLD, 5) == pytest.approx(3 / 4)
    assert mean_reciprocal_rank(RANKED, GOLD) == pytest.approx((1 / 2 + 1 / 2 + 0 + 1) / 4)


def test_queries_without_gold_are_skipped_and_lengths_must_match():
    assert recall_at_k(RANKED + [["a"]], GOLD + [set()], 1) == pytest.approx(1 / 4)
    assert math.isnan(mean_reciprocal_rank([["a"]], [set()]))
    with pytest.raises(ValueError, match="3 ranked lists but 4 gold sets"):
        first_hit_ranks(RANKED[:3], GOLD)


def test_no_answer_precision_and_recall():
    rejected = [True, True, False, False, True]
    unanswerable = [True, False, True, False, True]
    assert no_answer_precision_recall(rejected, unanswerable) == pytest.approx((2 / 3, 2 / 3))
    assert no_answer_precision_recall([False, False], [True, False]) == (0.0, 0.0)  # rejecting nothing
    assert no_answer_precision_recall([False, False], [False, False]) == (1.0, 1.0)  # nothing to reject


def test_retrieval_metrics_names_match_the_order_schema():
    from mofang.core.tasks import spec as task_spec
    from mofang.tasks.retrieval.evaluation import RETRIEVAL_TEST_METRICS

    out = retrieval_metrics(RANKED, GOLD, [True, False], [True, True])
    # ranking metrics come from here; answered_rate and hallucination_rate from RetrievalModel.evaluate (see
    # test_retrieval_answers); all are what the score station records
    gateable = set(task_spec("retrieval-qa").metrics)
    assert gateable - {"answered_rate", "hallucination_rate"} <= set(out) and gateable <= set(RETRIEVAL_TEST_METRICS)
    assert out["recall_at_10"] == pytest.approx(3 / 4) and out["no_answer_recall"] == pytest.approx(1 / 2)


def test_calibrate_picks_the_highest_recall_reaching_the_target_precision():
    answerable, unanswerable = [0.9, 0.8, 0.7, 0.3], [0.1, 0.2, 0.35]
    strict = calibrate(answerable, unanswerable, target_precision=1.0)
    assert strict.threshold == pytest.approx(0.25)  # rejects 0.1 and 0.2 only
    assert (strict.precision, strict.recall) == pytest.approx((1.0, 2 / 3))
    loose = calibrate(answerable, unanswerable, target_precision=0.75)
    assert loose.threshold == pytest.approx(0.525)  # also rejects 0.3 (answerable) and 0.35
    assert (loose.precision, loose.recall) == pytest.approx((0.75, 1.0))
    assert loose.rejects([0.5, 0.6]).tolist() == [True, False]


def test_calibrate_without_a_reachable_threshold_always_answers():
    result = calibrate([0.1, 0.2], [0.9, 0.8], target_precision=0.9)
    assert result.threshold is None and "no threshold reaches" in result.reason
    assert not result.rejects(0.0)
    assert calibrate([0.5], [], 0.9).threshold is None


def test_ranks_from_scores_agree_with_ranked_lists():
    import numpy as np

    from mofang.tasks.retrieval.models.metrics import metric_from_ranks, ranks_from_scores

    scores = np.array([[0.1, 0.9, 0.5, 0.3], [0.8, 0.2, 0.4, 0.6], [0.5, 0.4, 0.3, 0.2]])
    gold = [{2}, {1, 3}, {3}]
    ranked = [list(np.argsort(-row)) for row in scores]
    assert ranks_from_scores(scores, gold).tolist() == first_hit_ranks(ranked, gold).tolist() == [2, 2, 4]
    assert ranks_from_scores(scores, gold, depth=3).tolist() == [2, 2, 0]
    assert metric_from_ranks(np.array([2, 2, 4]), "mrr") == pytest.approx(mean_reciprocal_rank(ranked, gold))
    assert metric_from_ranks(np.array([2, 2, 4]), "recall_at_1") == 0.0
