"""Text-classification families: each trains within its budget, beats the prior and answers Chinese labels."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from mofang.core.tasks import register, unregister
from mofang.core.tasks import spec as task_spec
from mofang.evaluation.scoring import score_candidate
from mofang.models import registry
from mofang.models.candidate import Candidate
from mofang.models.registry import get_trainer, trainers_for, unavailable
from mofang.models.trainers.base import Trainer, default_metric
from mofang.orders.schema import Order
from tests.models.text_fixtures import dataset, splits

FAMILIES = ("tfidf-linear", "jieba-linear", "lsa-linear", "tfidf-lightgbm")


@pytest.fixture(scope="module")
def news_splits():
    return splits(600, seed=1)


@pytest.fixture(scope="module")
def prior_f1(news_splits) -> float:
    train, valid, test = news_splits
    candidate, _ = get_trainer("text-classification", "dummy").fit(train, valid, dataset(train), 1.0)
    return score_candidate(candidate, test, "类别")["f1_macro"]


def test_text_families_are_registered() -> None:
    assert set(FAMILIES) | {"dummy"} <= set(trainers_for("text-classification"))
    assert default_metric("text-classification", ["a", "b"]) == ("f1_macro", "higher")


@pytest.mark.parametrize("family", FAMILIES)
def test_family_learns_the_topics(family: str, news_splits, prior_f1: float, tmp_path, monkeypatch) -> None:
    train, valid, test = news_splits
    trainer = get_trainer("text-classification", family)
    # a few trials and a budget they cannot exhaust on a loaded machine, so the refit always has its time
    monkeypatch.setattr(type(trainer), "max_trials", 3)
    candidate, info = trainer.fit(train, valid, dataset(train), 60.0, seed=3)
    assert candidate.is_classifier and candidate.classes_ == sorted(["体育", "财经", "科技", "娱乐"])
    assert info["trials"] >= 1 and info["metric"] == "f1_macro"
    if family != "tfidf-lightgbm":  # the cheap families refit the chosen parameters on train + valid
        assert info["refit"].startswith("refitted") and candidate.params["refit_rows"] == 480
    scores = score_candidate(candidate, test, "类别")
    assert scores["f1_macro"] >= 0.85 > prior_f1 + 0.4, scores
    assert scores["f1_micro"] == pytest.approx(scores["accuracy"]) and scores["hamming_loss"] is None
    proba = candidate.predict_proba(test)
    assert proba.shape == (len(test), 4) and np.allclose(proba.sum(axis=1), 1.0)
    assert candidate.predict(test.head(1).drop(columns=["类别"]))[0] in candidate.classes_
    latency = candidate.measure_latency(test.drop(columns=["类别"]).head(20), n=20)
    assert latency["p95_ms"] > 0
    path = candidate.save(tmp_path / f"{family}.joblib")
    again = Candidate.load(path)
    assert list(again.predict(test)) == list(candidate.predict(test))


def test_linear_importance_names_ngrams(news_splits) -> None:
    train, valid, _ = news_splits
    candidate, _ = get_trainer("text-classification", "tfidf-linear").fit(train, valid, dataset(train), 2.0)
    top = list(candidate.feature_importance())
    assert 0 < len(top) <= 30 and all(name.startswith('"') for name in top)
    assert any(word in " ".join(top[:15]) for word in ("比", "股", "芯", "电影", "球", "明星"))
    lsa, _ = get_trainer("text-classification", "lsa-linear").fit(train, valid, dataset(train), 2.0)
    assert lsa.feature_importance() == {}


def test_binary_text_gets_a_tuned_threshold(news_splits) -> None:
    train, valid, test = (frame[frame["类别"].isin(["体育", "财经"])].reset_index(drop=True)
                          for frame in news_splits)
    candidate, info = get_trainer("text-classification", "tfidf-linear").fit(
        train, valid, dataset(train), 2.0, decision_metric="f1_macro")
    assert candidate.classes_ == ["体育", "财经"] and candidate.threshold_ is not None
    assert score_candidate(candidate, test, "类别")["roc_auc"] > 0.95


def test_large_inputs_are_sampled_to_fit_the_budget(news_splits) -> None:
    train, valid, _ = news_splits
    _, info = get_trainer("text-classification", "tfidf-lightgbm").fit(train, valid, dataset(train), 0.01)
    assert "sampled" not in info  # 360 rows: below the floor of 400, never sampled
    big = train.sample(2000, replace=True, random_state=0).reset_index(drop=True)
    candidate, info = get_trainer("text-classification", "tfidf-lightgbm").fit(big, valid, dataset(big), 0.01)
    assert info["sampled"].startswith("trained on 400 of 2,000 rows")
    assert candidate.params["train_rows"] == 400


def test_the_order_reaches_the_family(news_splits) -> None:
    seen: list[Any] = []

    class Probe(Trainer):
        mode = "text-raw"
        task, family = "text-classification", "probe"

        def build(self, params: dict[str, Any], seed: int) -> Any:
            seen.append(self.order.base_model if self.order else None)
            from mofang.models.trainers.text_baseline import PriorModel

            return PriorModel()

    train, valid, _ = news_splits
    order = Order.model_validate({"id": "o", "tenant": "t", "task": "text-classification",
                                  "data": [{"path": "x.csv"}], "target": "类别", "base_model": "bert-tiny"})
    Probe().fit(train, valid, dataset(train), 1.0, order=order)
    Probe().fit(train, valid, dataset(train), 1.0)
    assert seen == ["bert-tiny", None]


def test_a_family_that_cannot_load_is_absent_with_the_reason(monkeypatch) -> None:
    text = task_spec("text-classification")
    spec = replace(text, name="text-with-an-absent-family",
                   families={**text.families, "absent": "mofang.models.trainers.not_installed:Trainer"})
    monkeypatch.setattr(registry, "UNAVAILABLE", {})
    register(spec)
    try:
        found = trainers_for(spec.name)
        assert "tfidf-linear" in found and "absent" not in found
        assert "No module named 'mofang.models.trainers.not_installed'" in \
            unavailable(spec.name)["mofang.models.trainers.not_installed"]
    finally:
        unregister(spec.name)
