"""The robustness suite on retrieval questions: each held-out question perturbed and ranked again."""

from __future__ import annotations

import pytest

from mofang.evaluation.robustness import PERTURBATIONS, perturb
from mofang.tasks.retrieval.evaluation import retrieval_robustness
from mofang.tasks.retrieval.models import QAColumns, RetrievalModel
from tests.tasks.retrieval.models.retrieval_fixtures import faq_frame

COLUMNS = QAColumns(questions=("问题",), answer="答案", query="问法", sources=("部门",))


@pytest.fixture(scope="module")
def model_and_test():
    frame = faq_frame()
    model = RetrievalModel.from_pairs(frame.iloc[:0], COLUMNS, held_out=[frame], dense=("lsa",))
    return model, frame


@pytest.mark.parametrize("metric", ["mrr", "recall_at_1"])
def test_each_perturbation_is_the_metric_of_the_perturbed_questions(model_and_test, metric: str) -> None:
    model, test = model_and_test
    report = retrieval_robustness(model, test, metric, seed=3)
    assert report["metric"] == metric and [r["perturbation"] for r in report["rows"]] == list(PERTURBATIONS)
    questions, gold = model.held_out_questions(test)
    assert report["clean_score"] == pytest.approx(model.evaluate_queries(questions, gold)[metric])
    for row in report["rows"]:  # recomputed independently: rank the perturbed questions as the product would
        perturbed = perturb(questions, row["perturbation"], seed=3)
        expected = model.evaluate_queries(perturbed, gold)[metric]
        assert row["score"] == pytest.approx(expected), row
        assert row["drop"] == pytest.approx(report["clean_score"] - expected)
        changed = sum(a != b for a, b in zip(questions, perturbed, strict=True)) / len(questions)
        assert row["changed_share"] == pytest.approx(changed)
    assert report["worst"]["drop"] == max(r["drop"] for r in report["rows"])
    truncated = next(r for r in report["rows"] if r["perturbation"] == "truncation")
    assert truncated["changed_share"] > 0.5  # every short question loses its tail
    if metric == "mrr":  # ...and some of them their intent (twelve passages: the top hit mostly survives)
        assert truncated["drop"] > 0


def test_a_metric_that_is_not_a_ranking_reads_mrr_and_rows_are_sampled(model_and_test) -> None:
    model, test = model_and_test
    report = retrieval_robustness(model, test, "no_answer_precision", seed=0, rows=5)
    assert report["metric"] == "mrr"
    assert len(report["examples"]["truncation"]) <= 5
    assert all(e["text"] in set(test["问法"]) for e in report["examples"]["truncation"])
