"""The build manifest of a reproducible product: what it records (library versions, code, hardware, seeds, the
plan, the model digest) and the field-by-field comparison `mofang reproduce` prints."""

from __future__ import annotations

import joblib
import numpy as np
from sklearn.ensemble import ExtraTreesClassifier

from mofang.integration.manifest import build_manifest, compare, environment, model_digest

ORDER = {"id": "loan", "tenant": "bank", "seed": 42, "reproducible": True}
PLAN = {"families": ["linear", "lightgbm"], "primary_metric": "roc_auc", "direction": "higher", "budget_s": 30.0,
        "train_s": 20.0, "seconds": {"linear": 5.0, "lightgbm": 15.0}, "trials": {"linear": 4, "lightgbm": 7},
        "trial_cost_s": {"linear": 0.6, "lightgbm": 2.0}, "train_rows": 1000}


def _forest(path, seed=0):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 5)), rng.integers(0, 2, 300)
    joblib.dump(ExtraTreesClassifier(n_estimators=20, random_state=seed, n_jobs=1).fit(X, y), path, compress=3)
    return path


def test_model_digest_is_the_same_for_identical_models_and_differs_otherwise(tmp_path):
    a, b = _forest(tmp_path / "a.joblib"), _forest(tmp_path / "b.joblib")
    assert model_digest(a) == model_digest(b)  # whatever the tree records' padding bytes hold
    assert model_digest(a) != model_digest(_forest(tmp_path / "c.joblib", seed=1))


def test_manifest_records_versions_code_hardware_seeds_and_plan(tmp_path):
    model = _forest(tmp_path / "model.joblib")
    manifest = build_manifest(order=ORDER, dataset={"digest": "d" * 64, "rows": 1500}, plan=PLAN,
                              candidates=[{"family": "linear", "trials": 4}, {"family": "lightgbm", "trials": 7},
                                          {"family": "ensemble", "trials": 0}],
                              winner={"name": "lightgbm", "family": "lightgbm"}, model_path=model,
                              test_metrics={"roc_auc": 0.84}, threads={"libraries": 1})
    for library in ("numpy", "pandas", "scikit-learn", "lightgbm", "catboost", "optuna", "pyarrow"):
        assert manifest["libraries"][library], library
    assert manifest["python"] and manifest["hardware"]["cores"] and manifest["code"]["sources_sha256"]
    assert manifest["code"]["mofang"]
    assert manifest["order_digest"] and manifest["dataset_digest"] == "d" * 64 and manifest["seed"] == 42
    assert manifest["plan"]["trials"] == {"linear": 4, "lightgbm": 7}
    assert manifest["trials_run"] == {"linear": 4, "lightgbm": 7}
    assert manifest["model_digest"] == model_digest(model) and manifest["threads"] == {"libraries": 1}


def test_compare_reports_every_field_and_environment_differences(tmp_path):
    recorded = {"test_metrics": {"roc_auc": 0.84, "f1_macro": 0.7}, "model_digest": "m", "winner": {"name": "x"},
                "trials_run": {"x": 3}, "dataset_digest": "d", **environment()}
    same = compare(recorded, dict(recorded), environment())
    assert same["identical"] and same["environment_same"]
    assert {r["field"] for r in same["fields"] if r["kind"] == "metric"} == {"roc_auc", "f1_macro"}
    moved = {**recorded, "test_metrics": {"roc_auc": 0.85, "f1_macro": 0.7}, "model_digest": "n"}
    elsewhere = {**environment(), "libraries": {**environment()["libraries"], "numpy": "0.0.1"}}
    result = compare(recorded, moved, elsewhere)
    different = {r["field"] for r in result["fields"] if not r["same"]}
    assert not result["identical"] and not result["environment_same"]
    assert different == {"roc_auc", "model_digest", "numpy"}
    assert not compare(recorded, None, environment())["identical"]  # no rebuilt manifest: never identical
