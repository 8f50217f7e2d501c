"""The model workshop station: plan → train → select, within budget, resumable, limits respected."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mofang.models import Candidate, ModelWorkshop
from tests.models.tabular_fixtures import classification_data, make_order, regression_data, run_station, stage
from tests.timing import allowed_s


@pytest.fixture()
def station() -> ModelWorkshop:
    s = ModelWorkshop()
    s.latency_calls = 30  # keep the tests fast; the line measures 200 calls
    return s


def test_binary_job_trains_all_families_and_picks_the_best(make_ctx, station):
    order = make_order(minutes=0.22)
    ctx = stage(make_ctx(order, station="model"), classification_data())
    started = time.monotonic()
    summaries = run_station(station, ctx)
    assert time.monotonic() - started < allowed_s(2 * ctx.budget_s)
    plan, candidates, winner = ctx.load("plan"), ctx.load("candidates"), ctx.load("winner")
    families = ["dummy", "linear", "knn", "randomforest", "extratrees", "mlp", "catboost", "xgboost", "lightgbm"]
    assert plan["primary_metric"] == "roc_auc" and plan["families"] == families
    by_name = {c["name"]: c for c in candidates}
    assert {c["family"] for c in candidates} - {"ensemble"} == set(families)
    assert by_name["lightgbm"]["valid_metrics"]["roc_auc"] > by_name["dummy"]["valid_metrics"]["roc_auc"]
    for record in candidates:
        assert set(record["valid_metrics"]) >= {"roc_auc", "f1_macro", "log_loss"}
        assert Path(record["model_path"]).exists() and record["size_mb"] > 0 and record["p95_ms"] > 0
    assert winner["name"] != "dummy" and winner["reason"].startswith(f"picked {winner['name']}: best roc_auc")
    assert winner["reason"] in ctx.record.reasons and summaries["select"] == winner["reason"]
    assert Candidate.load(winner["model_path"]).predict(ctx.load("test")).shape == (len(ctx.load("test")),)


def test_train_resumes_without_refitting_saved_families(make_ctx, station):
    ctx = stage(make_ctx(make_order(minutes=0.2), station="model"), classification_data(n=400))
    station.plan(ctx)
    station.train(ctx)
    first = ctx.load("candidates")
    mtimes = {p.name: p.stat().st_mtime_ns for p in ctx.path("models").glob("*.joblib")}
    (ctx.path("models") / "lightgbm.json").unlink()  # as if the job died while lightgbm was training
    station.train(ctx)
    again = {p.name: p.stat().st_mtime_ns for p in ctx.path("models").glob("*.joblib")}
    assert again["dummy.joblib"] == mtimes["dummy.joblib"] and again["linear.joblib"] == mtimes["linear.joblib"]
    assert again["lightgbm.joblib"] != mtimes["lightgbm.joblib"]
    assert [c["name"] for c in ctx.load("candidates")] == [c["name"] for c in first]
    assert any("already trained" in r for r in ctx.record.reasons)


def test_multiclass_uses_f1_macro(make_ctx, station):
    ctx = stage(make_ctx(make_order(minutes=0.2), station="model"), classification_data(n=600, n_classes=3))
    run_station(station, ctx)
    assert ctx.load("winner")["primary_metric"] == "f1_macro"


def test_regression_minimises_rmse(make_ctx, station):
    order = make_order("tabular-regression", "price", minutes=0.2)
    ctx = stage(make_ctx(order, station="model"), regression_data(n=600))
    run_station(station, ctx)
    winner, candidates = ctx.load("winner"), {c["name"]: c for c in ctx.load("candidates")}
    assert winner["primary_metric"] == "rmse" and winner["name"] != "dummy"
    assert winner["valid_score"] == min(c["valid_metrics"]["rmse"] for c in candidates.values())


def _select_with(make_ctx, station, candidates, **acceptance):
    ctx = make_ctx(make_order(**acceptance), station="model")
    ctx.save("plan", {"primary_metric": "roc_auc", "direction": "higher"})
    ctx.save("candidates", candidates)
    station.select(ctx)
    return ctx.load("winner")


def _record(name, auc, size_mb, p95_ms):
    return {"name": name, "family": name, "model_path": f"/m/{name}.joblib", "valid_metrics": {"roc_auc": auc},
            "size_mb": size_mb, "p95_ms": p95_ms}


def test_select_skips_candidates_over_the_size_or_latency_limit(make_ctx, station):
    candidates = [_record("dummy", 0.5, 0.01, 1.0), _record("linear", 0.80, 0.1, 2.0),
                  _record("lightgbm", 0.90, 30.0, 3.0)]
    winner = _select_with(make_ctx, station, candidates, max_model_mb=5)
    assert winner["name"] == "linear" and "excluded lightgbm (30.0 MB > 5 MB)" in winner["reason"]
    winner = _select_with(make_ctx, station, candidates, p95_latency_ms=2.5)
    assert winner["name"] == "linear"


def test_select_falls_back_to_the_best_overall_and_says_so(make_ctx, station):
    candidates = [_record("linear", 0.80, 0.1, 20.0), _record("lightgbm", 0.90, 3.0, 30.0)]
    winner = _select_with(make_ctx, station, candidates, p95_latency_ms=1)
    assert winner["name"] == "lightgbm" and "no candidate meets the size/latency limits" in winner["reason"]


def test_plan_records_the_time_split(make_ctx, station):
    ctx = stage(make_ctx(make_order(minutes=2), station="model"), classification_data(n=200))
    station.plan(ctx)
    plan = ctx.load("plan")
    assert plan["reserve_s"] == pytest.approx(12.0)
    assert plan["seconds"]["lightgbm"] > plan["seconds"]["linear"] > plan["seconds"]["dummy"]
    assert plan["train_s"] <= 120 - 12
    assert any("time split" in r for r in ctx.record.reasons)
    json.dumps(plan)


def test_bagged_families_are_weighed_into_one_ensemble_candidate_out_of_fold(make_ctx, station):
    ctx = stage(make_ctx(make_order(minutes=0.3), station="model"), classification_data(n=600, seed=2))
    station.plan(ctx)
    plan = ctx.load("plan")  # four of the families, so each has the time to bag within a short test
    ctx.save("plan", {**plan, "families": ["dummy", "linear", "knn", "lightgbm"]})
    station.train(ctx)
    station.select(ctx)
    candidates = ctx.load("candidates")
    bagged = [c for c in candidates if c.get("oof_path")]
    assert len(bagged) >= 2 and all(c["selection_metrics"] == c["valid_metrics"] for c in bagged)
    reasons = " ".join(ctx.record.reasons)
    assert "bagged over train + valid" in reasons
    ensembles = [c for c in candidates if c["family"] == "ensemble"]
    if ensembles:  # chosen on out-of-fold scores; it is one candidate like any other
        ensemble = ensembles[0]
        assert "Caruana" in ensemble["note"] and abs(sum(ensemble["params"]["weights"]) - 1) < 1e-3
        assert ensemble["size_mb"] > 0 and ensemble["p95_ms"] > 0
        model = Candidate.load(ensemble["model_path"])
        assert model.predict_proba(ctx.load("test")).shape == (len(ctx.load("test")), 2)
    else:
        assert "ensemble" in reasons


def test_an_edge_order_trains_single_models_that_export(make_ctx, station):
    order = make_order(minutes=0.2)
    order.deployment.target = "edge"
    ctx = stage(make_ctx(order, station="model"), classification_data(n=400))
    run_station(station, ctx)
    assert ctx.load("plan")["families"] == ["dummy", "linear", "lightgbm"]
    assert not any(c.get("oof_path") for c in ctx.load("candidates"))
    assert any("delivered to the edge" in r for r in ctx.record.reasons)
