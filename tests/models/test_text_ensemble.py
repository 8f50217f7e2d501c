"""Blending text candidates: greedy on validation log loss, a soft-voting candidate, picked by the workshop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mofang.models import Candidate, ModelWorkshop
from mofang.models.ensemble import EnsembleCandidate, greedy_blend
from mofang.models.registry import get_trainer
from tests.models.tabular_fixtures import make_order, run_station, stage
from tests.models.text_fixtures import dataset, news, splits

CLASSES = ["a", "b", "c"]


def _noisy(truth: np.ndarray, seed: int, sharpness: float) -> np.ndarray:
    """Probabilities that favour the true class with independent noise per member."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(truth), 3)) + sharpness * (np.asarray(CLASSES)[:, None] == truth).T
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_greedy_blend_adds_members_while_log_loss_drops() -> None:
    truth = np.asarray(np.random.default_rng(0).choice(CLASSES, 400), dtype=object)
    probas = {"x": _noisy(truth, 1, 1.5), "y": _noisy(truth, 2, 1.5), "bad": _noisy(truth, 3, 0.0)}
    blend = greedy_blend(probas, truth, CLASSES, "text-classification")
    assert blend is not None and sorted(blend.members) == ["x", "y"]
    assert blend.metrics["log_loss"] < 1.0 and np.allclose(blend.proba, (probas["x"] + probas["y"]) / 2)
    assert greedy_blend({"x": probas["x"], "bad": probas["bad"]}, truth, CLASSES, "text-classification") is None


def test_ensemble_candidate_averages_its_members(tmp_path: Path) -> None:
    train, valid, test = splits(400, seed=6)
    members = [get_trainer("text-classification", f).fit(train, valid, dataset(train), 1.0)[0]
               for f in ("tfidf-linear", "jieba-linear")]
    ensemble = EnsembleCandidate(members)
    proba = ensemble.predict_proba(test)
    assert np.allclose(proba, (members[0].predict_proba(test) + members[1].predict_proba(test)) / 2)
    assert ensemble.is_classifier and ensemble.classes_ == members[0].classes_
    again = Candidate.load(ensemble.save(tmp_path / "ensemble.joblib"))
    assert list(again.predict(test)) == list(ensemble.predict(test))
    assert ensemble.feature_importance() == {} and ensemble.measure_latency(test.head(5), n=5)["p95_ms"] > 0
    with pytest.raises(TypeError, match="raw rows"):
        ensemble.proba_from_matrix(None)


def test_workshop_blends_text_candidates_when_it_helps(make_ctx) -> None:
    frame = news(900, seed=8)
    flip = np.random.default_rng(8).random(len(frame)) < 0.2  # label noise: no family is perfect
    frame.loc[flip, "类别"] = np.random.default_rng(9).choice(sorted(set(frame["类别"])), int(flip.sum()))
    frame.insert(0, "row_id", range(len(frame)))
    parts = {"train": frame.iloc[:600], "valid": frame.iloc[600:750], "test": frame.iloc[750:]}
    data = {name: part.reset_index(drop=True) for name, part in parts.items()}
    data["dataset"] = {**dataset(data["train"]), "id_column": "row_id", "digest": "sha256:test", "dropped": [],
                       "rows": {k: len(v) for k, v in parts.items()}}
    order = make_order(task="text-classification", target="类别", minutes=0.25)
    station = ModelWorkshop()
    station.latency_calls = 20
    ctx = stage(make_ctx(order, station="model"), data)
    run_station(station, ctx)
    candidates, winner = ctx.load("candidates"), ctx.load("winner")
    assert all(Path(r["valid_proba_path"]).exists() for r in candidates if r["family"] not in ("dummy", "ensemble"))
    blends = [r for r in candidates if r["family"] == "ensemble"]
    reasons = " ".join(ctx.record.reasons)
    assert blends or "log loss" in reasons
    for record in blends:
        assert record["name"].startswith("ensemble(") and record["valid_metrics"]["log_loss"] < min(
            r["valid_metrics"]["log_loss"] for r in candidates if r["family"] not in ("dummy", "ensemble"))
    model = Candidate.load(winner["model_path"])
    assert set(model.predict(pd.DataFrame({"标题": ["球队夺得联赛冠军", "央行下调利率"]}))) <= set(model.classes_)
