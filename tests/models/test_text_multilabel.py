"""Multi-label text classification: label lists in, one-vs-rest models, label lists out."""

from __future__ import annotations

import numpy as np
import pytest

from mofang.evaluation.scoring import score_candidate
from mofang.models.labels import as_object_array, indicator, label_set, split_labels
from mofang.models.registry import get_trainer
from mofang.models.text.multilabel import OneVsRest
from tests.models.text_fixtures import dataset, splits


@pytest.fixture(scope="module")
def multi_splits():
    return splits(600, seed=2, multi_label=True)


def test_labels_are_split_stripped_and_deduplicated() -> None:
    assert split_labels(" 教育 | 医疗|教育||", "|") == ["教育", "医疗"]
    assert split_labels(None, "|") == [] and split_labels(["a", "b"], ";") == ["a", "b"]
    assert label_set(["教育;医疗", "交通", None], ";") == ["交通", "医疗", "教育"]
    assert indicator([["b"], ["a", "c"], []], ["a", "b"]).tolist() == [[0, 1], [1, 0], [0, 0]]
    lists = as_object_array([["a"], ["b"]])
    assert lists.shape == (2,) and lists[1] == ["b"]


@pytest.mark.parametrize("family", ["dummy", "tfidf-linear", "jieba-linear", "lsa-linear", "tfidf-lightgbm"])
def test_family_answers_label_lists(family: str, multi_splits) -> None:
    train, valid, test = multi_splits
    candidate, info = get_trainer("text-classification", family).fit(
        train, valid, dataset(train, multi_label=True), 3.0)
    assert candidate.is_multi_label and candidate.classes_ == ["体育", "娱乐", "科技", "财经"]
    assert 0.05 <= candidate.threshold_ <= 0.7
    predictions = candidate.predict(test)
    assert predictions.shape == (len(test),)
    assert all(isinstance(p, list) and p and set(p) <= set(candidate.classes_) for p in predictions)
    proba = candidate.predict_proba(test)
    assert proba.shape == (len(test), 4) and ((proba >= 0) & (proba <= 1)).all()
    scores = score_candidate(candidate, test, "类别")
    assert set(scores) >= {"f1_micro", "f1_macro", "hamming_loss", "accuracy"}
    if family == "dummy":
        assert scores["f1_macro"] < 0.6
    else:
        assert scores["f1_micro"] >= 0.85 and scores["hamming_loss"] <= 0.1, scores
        assert info["valid_metrics"]["hamming_loss"] is not None


def test_one_vs_rest_handles_constant_labels_and_pickles() -> None:
    import io

    import joblib
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    Y = np.column_stack([(X[:, 0] > 0).astype(int), np.ones(80, dtype=int), np.zeros(80, dtype=int)])
    model = OneVsRest(LogisticRegression()).fit(X, Y)
    proba = model.predict_proba(X)
    assert proba.shape == (80, 3) and (proba[:, 1] == 1.0).all() and (proba[:, 2] == 0.0).all()
    assert ((proba[:, 0] >= 0.5) == (X[:, 0] > 0)).mean() > 0.9
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    buffer.seek(0)
    assert np.allclose(joblib.load(buffer).predict_proba(X), proba)
