"""Budgeted hyperparameter search: seeded Optuna TPE that never starts a trial it cannot finish."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)

# objective(trial, deadline) -> (score, fitted model); deadline is a time.monotonic() value
Objective = Callable[[optuna.Trial, float], tuple[float | None, Any]]
OnTrial = Callable[[int, float, "float | None"], None]


@dataclass
class SearchResult:
    best_score: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_model: Any = None
    trials: int = 0
    failed: int = 0
    seconds: float = 0.0
    slowest_s: float = 0.0
    stopped: str = ""


def search(objective: Objective, *, direction: str, budget_s: float, seed: int, max_trials: int,
           first_params: dict[str, Any] | None = None, on_trial: OnTrial | None = None,
           safety: float = 1.5) -> SearchResult:
    """Run trials until `max_trials`, or until the time left is under `safety` × the slowest trial.

    The first trial always runs (with `first_params` if given), so a tiny budget still yields a model;
    the objective gets the search deadline and is expected to stop its own training by then.
    """
    started = time.monotonic()
    deadline = started + max(0.0, budget_s)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(8, max(2, max_trials // 4)))
    study = optuna.create_study(direction="maximize" if direction == "higher" else "minimize",
                                sampler=sampler)
    if first_params:
        study.enqueue_trial(first_params)
    result = SearchResult()
    while result.trials + result.failed < max_trials:
        left = deadline - time.monotonic()
        if result.trials + result.failed and (left <= 0 or left < safety * result.slowest_s):
            result.stopped = f"time: {left:.1f}s left < {safety:g} × slowest trial {result.slowest_s:.1f}s"
            break
        trial = study.ask()
        t0 = time.monotonic()
        try:
            score, model = objective(trial, deadline)
        except (ValueError, ArithmeticError) as exc:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            result.failed += 1
            result.stopped = f"last failure: {exc}"
            continue
        result.slowest_s = max(result.slowest_s, time.monotonic() - t0)
        result.trials += 1
        if score is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, score)
            if _better(score, result.best_score, direction) or result.best_model is None:
                result.best_score, result.best_params, result.best_model = score, dict(trial.params), model
        if result.best_model is None:
            result.best_model, result.best_params = model, dict(trial.params)
        if on_trial is not None:
            on_trial(result.trials, time.monotonic() - started, result.best_score)
    else:
        result.stopped = result.stopped or f"reached {max_trials} trials"
    result.seconds = time.monotonic() - started
    return result


def _better(a: float, b: float | None, direction: str) -> bool:
    return b is None or (a > b if direction == "higher" else a < b)
