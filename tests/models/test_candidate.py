"""Candidate: uniform predict/proba/importance, save-load round trip, latency, raw-input serving."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from mofang.models import Candidate, get_trainer
from tests.models.tabular_fixtures import classification_data, regression_data


@pytest.fixture(scope="module")
def binary():
    return classification_data(n=600)


@pytest.fixture(scope="module")
def fitted(binary):
    data = binary
    return {family: get_trainer("tabular-classification", family).fit(
        data["train"], data["valid"], data["dataset"], budget_s=1.0, seed=0)[0]
        for family in ("dummy", "linear", "lightgbm")}


@pytest.mark.parametrize("family", ["dummy", "linear", "lightgbm"])
def test_predict_returns_class_strings_and_proba_rows_sum_to_one(fitted, binary, family):
    candidate = fitted[family]
    labels = candidate.predict(binary["test"])
    proba = candidate.predict_proba(binary["test"])
    assert set(labels) <= {"no", "yes"}
    assert proba.shape == (len(binary["test"]), 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert candidate.classes_ == ["no", "yes"] and candidate.family == family


def test_save_load_predicts_identically(fitted, binary, tmp_path):
    for family, candidate in fitted.items():
        path = candidate.save(tmp_path / f"{family}.joblib")
        loaded = Candidate.load(path)
        assert np.array_equal(loaded.predict_proba(binary["test"]), candidate.predict_proba(binary["test"]))
        assert Candidate.size_mb(path) > 0
        pickle.loads(pickle.dumps(candidate))  # no lambdas or closures inside


def test_load_rejects_other_objects(tmp_path):
    import joblib

    joblib.dump({"not": "a candidate"}, tmp_path / "x.joblib")
    with pytest.raises(TypeError, match="not a Candidate"):
        Candidate.load(tmp_path / "x.joblib")


def test_feature_importance_maps_to_source_columns(fitted, binary):
    names = {f["name"] for f in binary["dataset"]["features"]}
    assert fitted["dummy"].feature_importance() == {}
    for family in ("linear", "lightgbm"):
        importance = fitted[family].feature_importance()
        assert set(importance) <= names and importance
        assert list(importance.values()) == sorted(importance.values(), reverse=True)


def test_latency_is_measured_on_single_rows(fitted, binary):
    latency = fitted["lightgbm"].measure_latency(binary["test"], n=20)
    assert 0 < latency["p50_ms"] <= latency["p95_ms"]


def test_regression_candidate_predicts_floats():
    data = regression_data(n=400)
    candidate, info = get_trainer("tabular-regression", "lightgbm").fit(
        data["train"], data["valid"], data["dataset"], budget_s=1.0, seed=0)
    assert candidate.predict(data["test"]).dtype == np.float64
    assert candidate.classes_ is None
    assert set(info["valid_metrics"]) == {"rmse", "mae", "r2", "mape"}
    with pytest.raises(TypeError):
        candidate.predict_proba(data["test"])


def test_served_model_accepts_raw_json_rows(fitted, binary):
    pytest.importorskip("mofang.data", reason="mofang.data (coerce) has not landed yet")
    rows = binary["test"].head(5)
    raw = rows.astype(object).where(rows.notna(), None)
    raw["signup"] = [None if v is None else v.strftime("%Y/%m/%d") for v in raw["signup"]]
    for column in ("x0", "x1", "x2", "x3", "x4"):
        raw[column] = [None if v is None else str(v) for v in raw[column]]
    candidate = fitted["lightgbm"]
    assert np.allclose(candidate.predict_proba(raw), candidate.predict_proba(rows))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_small_batches_answer_like_large_ones(n_classes):
    """Served-size batches skip the sklearn wrapper; the numbers must be those of the batch path."""
    data = classification_data(n=600, n_classes=n_classes)
    candidate = get_trainer("tabular-classification", "lightgbm").fit(
        data["train"], data["valid"], data["dataset"], budget_s=1.0, seed=0)[0]
    test = data["test"]
    batch = candidate.predict_proba(test)  # > SMALL_BATCH rows: wrapper + column path
    singles = np.vstack([candidate.predict_proba(test.iloc[[i]]) for i in range(10)])
    assert np.allclose(singles, batch[:10])
    reg = regression_data(n=400)
    model = get_trainer("tabular-regression", "lightgbm").fit(
        reg["train"], reg["valid"], reg["dataset"], budget_s=1.0, seed=0)[0]
    assert np.allclose([model.predict(reg["test"].iloc[[i]])[0] for i in range(5)],
                       model.predict(reg["test"])[:5])
