"""Reproducible builds: the fixed plan of trials is sized from the budget up front, the search ends on its trial
count (never the clock) and fails past its hard cap, and the libraries get fixed threads and their deterministic
settings."""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pytest

from mofang.core.errors import MofangError
from mofang.models.reproducible import (
    MAX_TRIALS,
    THREADS,
    PlanOverrun,
    hard_cap_s,
    is_reproducible,
    planned_trials,
    seed_everything,
    trial_cost_s,
)
from mofang.models.trainers.boosting import LightGBMClassifierTrainer
from mofang.models.tuning import search
from mofang.orders.schema import Order


def test_trials_are_the_seconds_over_a_conservative_cost_per_trial():
    cost = trial_cost_s("lightgbm", 10_000, 20)
    assert cost == pytest.approx(2.0)
    assert planned_trials("lightgbm", 20.0, 10_000, 20, None) == 10
    assert planned_trials("lightgbm", 20.0, 10_000, 20, None, extra_fits=5) == 5  # bagging folds come off
    assert planned_trials("lightgbm", 40.0, 20_000, 40, None) == 5  # twice the rows, twice the columns: 4× cost
    assert planned_trials("linear", 1000.0, 100, 5, 8) == 8  # the family's own cap
    assert planned_trials("lightgbm", 1e9, 100, 5, None) == MAX_TRIALS
    assert planned_trials("catboost", 0.0, 10_000, 20, None) == 1  # always one trial
    # the same inputs give the same plan: nothing measured goes in
    assert [planned_trials(f, 12.5, 1500, 11, None) for f in ("mlp", "xgboost")] == \
        [planned_trials(f, 12.5, 1500, 11, None) for f in ("mlp", "xgboost")]


def test_the_order_option_defaults_off():
    order = {"id": "o", "tenant": "t", "task": "tabular-classification", "data": [{"path": "x.csv"}],
             "target": "y", "acceptance": "none"}
    assert Order.model_validate(order).reproducible is False
    assert Order.model_validate({**order, "reproducible": True}).reproducible is True
    assert not is_reproducible(None) and is_reproducible(SimpleNamespace(reproducible=True))


def test_fixed_search_runs_its_trials_whatever_the_clock_says():
    deadlines = []

    def slow(trial, deadline):
        deadlines.append(deadline)
        x = trial.suggest_float("x", 0, 1)
        time.sleep(0.05)
        return x, x

    # a time-bound search would stop after a trial or two in 0.12 s; the fixed one runs all six
    result = search(slow, direction="higher", budget_s=10.0, seed=3, max_trials=6, fixed=True)
    assert result.trials == 6 and all(d == float("inf") for d in deadlines)
    again = search(slow, direction="higher", budget_s=10.0, seed=3, max_trials=6, fixed=True)
    assert again.best_params == result.best_params  # seeded: the same trials


def test_fixed_search_fails_past_its_hard_cap_instead_of_stopping_early():
    def slow(trial, deadline):
        time.sleep(0.1)
        return trial.suggest_float("x", 0, 1), None

    with pytest.raises(PlanOverrun, match="hard cap"):
        search(slow, direction="higher", budget_s=0.15, seed=0, max_trials=50, fixed=True)
    assert issubclass(PlanOverrun, MofangError)
    assert hard_cap_s(100.0) == 200.0 and hard_cap_s(0.5) == 10.5  # twice the seconds, at least 10 s past them


def test_lightgbm_is_single_threaded_and_deterministic_in_a_reproducible_build():
    trainer = LightGBMClassifierTrainer()
    params = {"learning_rate": 0.1, "num_leaves": 31}
    assert trainer.common(params, 1)["n_jobs"] == 2 and "deterministic" not in trainer.common(params, 1)
    trainer.order = SimpleNamespace(reproducible=True)
    built = trainer.common(params, 1)
    assert built["n_jobs"] == THREADS and built["deterministic"] and built["force_row_wise"]


def test_seed_everything_resets_the_global_generators():
    seed_everything(7)
    first = (np.random.rand(), __import__("random").random())
    seed_everything(7)
    assert (np.random.rand(), __import__("random").random()) == first


def test_the_model_plan_fixes_trial_counts_from_the_budget_not_the_clock(make_ctx):
    from mofang.models import ModelWorkshop
    from tests.models.tabular_fixtures import classification_data, make_order, stage

    def planned(used_s: float) -> dict:
        order = make_order(minutes=1.0).model_copy(update={"reproducible": True})
        ctx = stage(make_ctx(order, station="model"), classification_data(n=400))
        ctx._budget_used_s = used_s  # as if the data station had taken this long
        ModelWorkshop().plan(ctx)
        return ctx.load("plan")

    quick, slow = planned(1.0), planned(25.0)
    assert quick["trials"] == slow["trials"] and quick["seconds"] == slow["seconds"]  # sized from the budget alone
    assert set(quick["trials"]) == set(quick["families"]) and all(n >= 1 for n in quick["trials"].values())
    assert quick["trials"]["lightgbm"] > 1 and quick["threads"] == THREADS and quick["seed"] == 42
    assert quick["train_rows"] > 0 and quick["trial_cost_s"]["lightgbm"] > 0
    plain = make_order(minutes=1.0)
    ctx = stage(make_ctx(plain, station="model"), classification_data(n=400))
    ModelWorkshop().plan(ctx)
    assert "trials" not in ctx.load("plan")  # without the option the plan is as before


def test_a_reproducible_pick_leaves_the_measured_latency_to_the_gate(make_ctx):
    """A latency measured on validation is a clock reading: under load the same ensemble measured 53 ms against a
    50 ms limit in one run and 45 ms in the other, and two reproducible builds picked different winners."""
    from mofang.models import ModelWorkshop
    from tests.models.tabular_fixtures import classification_data, make_order, stage

    def picked(reproducible: bool) -> str:
        order = make_order(minutes=1.0, metrics={"roc_auc": ">= 0.5"}, p95_latency_ms=50)
        order = order.model_copy(update={"reproducible": reproducible})
        ctx = stage(make_ctx(order, station="model"), classification_data(n=300))
        ctx.save("plan", {"primary_metric": "roc_auc", "direction": "higher"})
        ctx.save("candidates", [
            {"name": "slow", "family": "lightgbm", "valid_metrics": {"roc_auc": 0.9}, "size_mb": 1.0,
             "p95_ms": 53.1, "model_path": "slow.joblib"},
            {"name": "fast", "family": "linear", "valid_metrics": {"roc_auc": 0.8}, "size_mb": 0.1,
             "p95_ms": 7.1, "model_path": "fast.joblib"}])
        ModelWorkshop().select(ctx)
        return ctx.load("winner")["name"]

    assert picked(False) == "fast"  # a plain build keeps to the limit as measured
    assert picked(True) == "slow"  # a reproducible build leaves latency to the gate on test
