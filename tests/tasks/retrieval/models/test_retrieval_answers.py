"""What a user of a retrieval product gets: answered-rate, no-answer recall and hallucination rate measured
together on held-out questions, and a product that answers nothing failing a hallucination gate."""

from __future__ import annotations

import math

import pytest

from mofang.core.metrics.generation import is_unanswered
from mofang.evaluation import check_gate
from mofang.integration.openai_api import NO_ANSWER
from mofang.orders.schema import Order
from mofang.tasks.retrieval.evaluation import COUNTS, _unmeasured
from mofang.tasks.retrieval.models import QAColumns, RetrievalModel
from mofang.tasks.retrieval.models.noanswer import NoAnswerThreshold
from tests.tasks.retrieval.models.retrieval_fixtures import OUT_OF_DOMAIN, faq_frame

COLUMNS = QAColumns(questions=("问题",), answer="答案", query="问法", sources=("部门",))


def retrieval_order(**metrics: str) -> Order:
    return Order.model_validate({"id": "faq", "tenant": "acme", "task": "retrieval-qa", "data": [{"path": "x.csv"}],
                                 "text": ["问法", "问题"], "target": "答案", "acceptance": {"metrics": metrics},
                                 "budget": {"minutes": 0.2}})


@pytest.fixture(scope="module")
def tuned() -> RetrievalModel:
    frame = faq_frame()
    model = RetrievalModel.from_pairs(frame.iloc[:7], COLUMNS, held_out=[frame.iloc[7:]], dense=())
    model.tune(frame.iloc[7:], OUT_OF_DOMAIN[:4], mask_self=False, target_precision=1.0)
    return model


def test_answers_are_checked_against_each_questions_reference(tuned: RetrievalModel) -> None:
    metrics = tuned.evaluate(faq_frame().iloc[7:], OUT_OF_DOMAIN[4:], mask_self=False)
    # 5 answerable questions, 4 out-of-domain ones; the calibrated threshold refuses the out-of-domain questions
    assert metrics["questions"] == 5 and metrics["unanswerable"] == 4 and metrics["no_answer_recall"] == 1.0
    assert metrics["answered_rate"] == pytest.approx(metrics["answered"] / 5)
    assert metrics["answered"] == metrics["claims"] == 5  # all answered; each answer here is one sentence
    # 4 of 5 top answers are the question's own (recall@1 0.8); the fifth, 银行卡挂失以后怎么补卡 answered with the
    # credit-card passage (请立即拨打客服热线挂失信用卡…), is not supported by the reference (挂失七天后携带身份证…)
    assert metrics["recall_at_1"] == 0.8
    assert metrics["hallucination_rate"] == pytest.approx(0.2)


def test_answering_unanswerable_questions_is_hallucination(tuned: RetrievalModel) -> None:
    """Without a no-answer threshold the product answers the questions whose own answer is hidden, from some
    other passage: none of those claims has evidence, and the rate says so."""
    always = tuned.variant(tuned.first_)
    metrics = always.evaluate(faq_frame().iloc[7:])
    assert metrics["answered_rate"] == 1.0 and metrics["no_answer_recall"] == 0.0
    assert metrics["hallucination_rate"] >= 0.5  # half the answers (the masked questions) have no evidence


def test_a_product_that_answers_nothing_fails_the_hallucination_gate(tuned: RetrievalModel) -> None:
    silent = tuned.variant(tuned.first_)
    silent.no_answer_ = NoAnswerThreshold(math.inf, 1.0, 1.0, 1.0, 0, 0, "refuses everything")
    metrics = silent.evaluate(faq_frame().iloc[7:], OUT_OF_DOMAIN)
    counts = {k: int(metrics.pop(k) or 0) for k in COUNTS}
    assert metrics["answered_rate"] == 0.0 and metrics["no_answer_recall"] == 1.0
    assert metrics["hallucination_rate"] is None and counts["answered"] == 0
    order = retrieval_order(hallucination_rate="<= 0.25")
    gate = check_gate(order, metrics, 1.0, 1.0, unmeasured=_unmeasured(metrics, counts))
    (check,) = gate["checks"]
    assert not gate["passed"] and not check["passed"] and check["observed"] is None
    assert check["message"].startswith("hallucination_rate is undefined: the product answered none of the 18 test")
    assert check["message"].endswith("(required <= 0.25)")
    # the answering product is decided by its measured rate instead
    answering = tuned.evaluate(faq_frame().iloc[7:], OUT_OF_DOMAIN[4:], mask_self=False)
    assert check_gate(order, answering, 1.0, 1.0)["passed"]


def test_retrieval_orders_gate_on_answer_metrics_and_the_no_answer_reply_is_unanswered() -> None:
    order = retrieval_order(hallucination_rate="<= 0.1", answered_rate=">= 0.5", no_answer_recall=">= 0.3")
    assert set(order.acceptance.metrics) == {"hallucination_rate", "answered_rate", "no_answer_recall"}
    with pytest.raises(ValueError, match="outside the range of answered_rate"):
        retrieval_order(answered_rate=">= 1.5")
    assert all(is_unanswered(text) for text in NO_ANSWER.values())
