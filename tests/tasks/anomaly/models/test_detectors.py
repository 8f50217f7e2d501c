"""Anomaly detectors: window features, every family ranks planted faults above normal readings, thresholds hit
the false-alarm target on normal data, the supervised family needs labels, a saved model scores the same."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mofang.data.split import split_by_time
from mofang.tasks.anomaly.models import DETECTORS, FAMILIES, AnomalyModel, calibrated_threshold, choose, fit_detectors
from mofang.tasks.anomaly.models.features import feature_names, segments, window_features
from tests.tasks.anomaly.models.streams import SENSORS, sensor_stream

INFO = {"sensors": list(SENSORS), "window": 8, "false_alarm_rate": 0.02, "label": "anomaly",
        "time_column": "datetime"}


@pytest.fixture(scope="module")
def parts() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    stream = sensor_stream(n=2400, events=10, seed=1)
    split = split_by_time(stream["datetime"], "datetime")
    return tuple(stream.iloc[p].reset_index(drop=True) for p in (split.train, split.valid, split.test))


def test_window_features_stay_inside_segments() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 10.0, 10.0], "b": [0.0, None, 1.0, 1.0, 1.0]})
    segment = np.array([0, 0, 0, 1, 1])
    X = window_features(frame, ["a", "b"], 2, segment)
    assert X.shape == (5, 8) and feature_names(["a", "b"])[:4] == ["a", "a:dev", "a:std", "a:diff"]
    assert X[3, 1] == 0.0 and X[3, 3] == 0.0  # a new segment: no deviation or step from the one before
    assert X[1, 4] == 0.0  # a missing reading is carried forward within its segment
    times = pd.Series(pd.to_datetime(["2024-01-01 00:00:00", "2024-01-01 00:00:01", "2024-01-01 00:00:02",
                                      "2024-01-01 03:00:00", "2024-01-01 03:00:01"]))
    assert segments(times, 5).tolist() == [0, 0, 0, 1, 1]
    assert segments(None, 3).tolist() == [0, 0, 0]


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_ranks_planted_faults_above_normal(family: str, parts) -> None:
    train, _, test = parts
    model = AnomalyModel(family, DETECTORS[family](seed=0), list(SENSORS), 8, "datetime", smooth=8)
    X = model.matrix(train)
    labels = train["anomaly"].to_numpy()
    if DETECTORS[family].supervised:
        model.detector_.fit(X, labels)
    else:
        model.detector_.fit(X[labels == 0])
    scores = model.scores(test)
    assert roc_auc_score(test["anomaly"], scores) > 0.7  # random: 0.5; measured 0.77 (robust-z) to 0.95


def test_threshold_meets_false_alarm_rate_on_normal_readings() -> None:
    normal = np.random.default_rng(0).normal(size=20_000)
    threshold = calibrated_threshold(normal, 0.01)
    assert np.mean(normal >= threshold) == pytest.approx(0.01, abs=0.001)
    ties = np.zeros(1000)
    assert np.mean(ties >= calibrated_threshold(ties, 0.05)) == 0.0  # all tied: nothing normal is flagged
    with pytest.raises(ValueError, match="no normal readings"):
        calibrated_threshold(np.array([np.nan]), 0.01)


def test_fit_detectors_calibrates_every_family_and_chooses_by_valid_events(parts, tmp_path) -> None:
    train, valid, test = parts
    fitted, skipped = fit_detectors(train, valid, INFO, seed=0)
    families = [f.model.family for f in fitted]
    assert families[:4] == list(FAMILIES) and not skipped
    assert families[4].startswith("lightgbm-windows+")  # the supervised one, or-ed with the best unsupervised one
    for item in fitted:
        normal = valid["anomaly"].to_numpy() == 0
        share = np.mean(item.model.flags(item.model.scores(valid))[normal])
        assert share <= 0.03 and item.valid_metrics["events"] >= 1 and "threshold" in item.note
    position, why = choose([(f.model.family, f.valid_metrics) for f in fitted], "event_f1", "higher", True)
    best = fitted[position]
    assert why.startswith("best valid event_f1")
    assert all(best.valid_metrics["event_f1"] >= f.valid_metrics["event_f1"] for f in fitted)
    path = best.model.save(tmp_path / "model.joblib")
    again = AnomalyModel.load(path)
    assert np.array_equal(again.score_frame(test)["flags"], best.model.score_frame(test)["flags"])
    assert again.predict(test).tolist() == best.model.score_frame(test)["flags"].astype(int).tolist()


def test_unlabelled_streams_skip_the_supervised_family_and_default_to_the_forest(parts) -> None:
    train, valid, _ = parts
    info = {**INFO, "label": None}
    fitted, skipped = fit_detectors(train.drop(columns="anomaly"), valid.drop(columns="anomaly"), info, seed=0)
    assert "lightgbm-windows" in skipped and "needs 10+ labelled" in skipped["lightgbm-windows"]
    position, why = choose([(f.model.family, f.valid_metrics) for f in fitted], "event_f1", "higher", False)
    assert fitted[position].model.family == "isolation-forest" and "no labels" in why


def test_scoring_needs_the_sensors() -> None:
    model = AnomalyModel("robust-z", DETECTORS["robust-z"](), ["a"], 4)
    with pytest.raises(ValueError, match=r"lack sensor columns \['a'\]"):
        model.scores(pd.DataFrame({"b": [1.0]}))


def test_supervised_plus_novelty_flags_novel_faults_and_wins_ties(parts) -> None:
    train, valid, _ = parts
    fitted, _ = fit_detectors(train, valid, INFO, seed=0)
    either = next(f.model for f in fitted if "+" in f.model.family)
    assert either.detector_.params["members"][0] == "lightgbm-windows"
    quiet = train.iloc[:80].drop(columns="anomaly").reset_index(drop=True)
    novel = quiet.copy()
    novel.loc[50:, "temperature"] -= 8.0  # a cold plunge: the labels only hold temperature rising
    assert either.score_frame(novel)["flags"][50:].any() and not either.score_frame(quiet)["flags"].any()
    tie = [("lightgbm-windows", {"event_f1": 0.8}), ("lightgbm-windows+robust-z", {"event_f1": 0.8})]
    assert choose(tie, "event_f1", "higher", True)[0] == 1
