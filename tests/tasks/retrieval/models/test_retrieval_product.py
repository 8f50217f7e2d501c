"""RetrievalModel: build from pairs or documents, tune, ask with sources, no answer, save/load, evaluate."""

from __future__ import annotations

import io

import pytest

from mofang.core.errors import DataError
from mofang.tasks.retrieval.models import QAColumns, RetrievalModel
from tests.tasks.retrieval.models.retrieval_fixtures import OUT_OF_DOMAIN, faq_frame

COLUMNS = QAColumns(questions=("问题",), answer="答案", query="问法", sources=("部门",))


@pytest.fixture(scope="module")
def tuned():
    frame = faq_frame()
    train, valid = frame.iloc[:7], frame.iloc[7:]
    model = RetrievalModel.from_pairs(train, COLUMNS, held_out=[valid], dense=("lsa",))
    report = model.tune(valid, OUT_OF_DOMAIN[:4], mask_self=False, target_precision=1.0)
    return model, report


def test_tune_reports_its_choice_and_a_threshold(tuned):
    model, report = tuned
    assert report["family"] == model.family and "bm25" in report["valid"] and "lsa" in report["valid"]
    assert model.no_answer_ is not None and model.no_answer_.threshold is not None
    assert model.no_answer_.precision == 1.0 and model.no_answer_.recall == 1.0
    assert model.task == "retrieval-qa" and model.params["passages"] == 12 and "bm25" in model.retrievers_
    assert any(reason.startswith("ranking ") for reason in model.reasons)


def test_ask_returns_answers_with_their_source(tuned):
    model, _ = tuned
    result = model.ask("信用卡丢了怎么挂失", k=3)
    assert not result["no_answer"] and len(result["answers"]) == 3
    best = result["answers"][0]
    assert best["answer"].startswith("请立即拨打客服热线挂失信用卡")
    assert best["source"] == {"row": "r1", "部门": "信用卡"}
    assert result["answers"][0]["score"] >= result["answers"][1]["score"]
    held_out = model.ask("哪里可以兑换外币")["answers"][0]  # a validation row: answer indexed, query not
    assert held_out["source"] == {"row": "r7", "部门": "外汇", "held_out": True}


def test_out_of_domain_questions_get_no_answer(tuned):
    model, _ = tuned
    for question in OUT_OF_DOMAIN[4:]:
        result = model.ask(question)
        assert result["no_answer"] and result["answers"] == [], question
        assert result["confidence"] < result["threshold"]
    with pytest.raises(ValueError, match="empty"):
        model.ask("  ")


def test_save_load_round_trip_gives_equal_answers(tuned, tmp_path):
    model, _ = tuned
    path = model.save(tmp_path / "model.joblib")
    restored = RetrievalModel.load(io.BytesIO(path.read_bytes()))
    for question in ["登录密码怎么修改", "买理财产品会不会亏本", OUT_OF_DOMAIN[0]]:
        assert restored.ask(question) == model.ask(question)
    assert 0 < RetrievalModel.size_mb(path) < 5
    latency = restored.measure_latency(["信用卡丢了", "网点几点开门"], n=20)
    assert 0 < latency["p50_ms"] <= latency["p95_ms"]


def test_evaluate_gives_the_order_metrics(tuned):
    model, _ = tuned
    frame = faq_frame()
    metrics = model.evaluate(frame.iloc[7:], OUT_OF_DOMAIN[4:], mask_self=False)
    assert metrics["recall_at_5"] == 1.0 and metrics["mrr"] > 0.5
    assert metrics["questions"] == 5 and metrics["unanswerable"] == 4
    assert metrics["no_answer_precision"] == 1.0 and metrics["no_answer_recall"] == 1.0


def test_questions_whose_answers_are_not_indexed_are_a_clear_error():
    frame = faq_frame()
    model = RetrievalModel.from_pairs(frame.iloc[:7], COLUMNS, dense=())
    with pytest.raises(DataError, match="build the model with these rows in held_out"):
        model.tune(frame.iloc[7:])
    with pytest.raises(DataError, match="lacks column"):
        RetrievalModel.from_pairs(frame.drop(columns=["答案"]), COLUMNS, dense=())


def test_a_documents_folder_gives_answers_with_file_sources(tmp_path):
    from mofang.data.documents import read_documents

    folder = tmp_path / "kb"
    folder.mkdir()
    files = {"cards.txt": "信用卡挂失\n信用卡丢失后请立即拨打客服热线挂失。挂失后七天可以补办新卡。",
             "hours.txt": "营业时间\n网点工作日上午九点开门，下午五点关门。周末部分网点营业。",
             "loans.md": "# 贷款材料\n申请个人贷款需要身份证、收入证明和银行流水。"}
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    frame, _ = read_documents(folder)
    model = RetrievalModel.from_documents(frame, chunk_chars=40, overlap_chars=10, dense=("lsa",))
    answer = model.ask("信用卡丢了怎么办", k=1)["answers"][0]
    assert answer["source"]["file"] == "cards.txt" and "挂失" in answer["answer"]
    text = frame.set_index("path").loc["cards.txt", "text"]
    assert text[answer["source"]["offset"]:].startswith(answer["answer"])
    assert model.ask("贷款要什么材料", k=1)["answers"][0]["source"]["file"] == "loans.md"


def test_order_text_columns_map_to_query_and_indexed_columns():
    two = QAColumns.for_order(["title", "ask"], "answer", sources=["department", "title", "answer"])
    assert (two.query_column, two.questions, two.sources) == ("title", ("ask",), ("department",))
    one = QAColumns.for_order("问题", "答案")
    assert (one.query_column, one.questions) == ("问题", ("问题",))
