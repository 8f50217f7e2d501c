"""The budgeted search: never starts a trial it cannot finish, keeps the best, survives failures."""

from __future__ import annotations

import time

from mofang.models.tuning import search


def test_stops_before_a_trial_would_overrun():
    def slow(trial, deadline):
        x = trial.suggest_float("x", 0, 1)
        time.sleep(0.2)
        return x, x

    started = time.monotonic()
    result = search(slow, direction="higher", budget_s=1.0, seed=0, max_trials=100)
    assert time.monotonic() - started <= 1.1
    assert 2 <= result.trials <= 5
    assert "slowest trial" in result.stopped
    assert result.best_model == result.best_score


def test_first_params_run_first_and_best_is_kept():
    seen = []

    def objective(trial, deadline):
        x = trial.suggest_float("x", -1, 1)
        seen.append(x)
        return (x - 0.5) ** 2, x

    result = search(objective, direction="lower", budget_s=10, seed=1, max_trials=12,
                    first_params={"x": 0.5})
    assert seen[0] == 0.5 and result.best_params == {"x": 0.5} and result.trials == 12


def test_failed_trials_are_skipped_and_reported():
    def objective(trial, deadline):
        x = trial.suggest_int("x", 0, 3)
        if trial.number == 0:
            raise ValueError("bad params")
        return float(x), x

    result = search(objective, direction="higher", budget_s=10, seed=0, max_trials=4)
    assert result.failed == 1 and result.trials == 3 and result.best_model is not None


def test_on_trial_reports_progress():
    calls = []
    search(lambda t, d: (t.suggest_float("x", 0, 1), None), direction="higher", budget_s=5, seed=0,
           max_trials=3, on_trial=lambda n, s, best: calls.append((n, best)))
    assert [n for n, _ in calls] == [1, 2, 3] and all(b is not None for _, b in calls)


def test_without_a_trial_cap_a_plateau_ends_the_search_and_says_so():
    def flat(trial, deadline):
        trial.suggest_float("x", 0, 1)
        return 1.0, "model"

    result = search(flat, direction="higher", budget_s=30, seed=0, max_trials=None, plateau=15)
    assert result.trials == 16 and result.best_trial == 1
    assert result.stopped.startswith("plateau: no better score in the 15 trials since trial 1")


def test_a_portfolio_runs_in_order_before_the_sampler():
    seen = []

    def objective(trial, deadline):
        x = trial.suggest_float("x", -1, 1)
        seen.append(x)
        return -abs(x), x

    portfolio = [{"x": 0.9}, {"x": -0.5}, {"x": 0.1}]
    result = search(objective, direction="higher", budget_s=10, seed=0, max_trials=6, first_params=portfolio)
    assert seen[:3] == [0.9, -0.5, 0.1] and result.trials == 6 and abs(result.best_params["x"]) <= 0.1


def test_time_kept_for_after_the_search_ends_it_earlier():
    def slow(trial, deadline):
        x = trial.suggest_float("x", 0, 1)
        time.sleep(0.1)
        return x, x

    started = time.monotonic()
    result = search(slow, direction="higher", budget_s=1.5, seed=0, max_trials=None,
                    reserve=lambda found: 5 * found.best_s)
    assert time.monotonic() - started <= 1.5 - 0.3 and "kept for bagging" in result.stopped
    assert result.best_s >= 0.1
