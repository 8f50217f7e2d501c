"""Budgeted hyperparameter search: seeded Optuna TPE that never starts a trial it cannot finish."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna

from mofang.core import interrupts

optuna.logging.set_verbosity(optuna.logging.WARNING)

# objective(trial, deadline) -> (score, fitted model); deadline is a time.monotonic() value
Objective = Callable[[optuna.Trial, float], tuple[float | None, Any]]
OnTrial = Callable[[int, float, "float | None"], None]
# a search with no trial cap ends on a plateau: this many trials in a row (after the portfolio) without a
# better score than the best by more than PLATEAU_DELTA
PLATEAU_TRIALS = 60
PLATEAU_DELTA = 1e-5


@dataclass
class SearchResult:
    best_score: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_model: Any = None
    trials: int = 0
    failed: int = 0
    seconds: float = 0.0
    slowest_s: float = 0.0
    best_s: float = 0.0  # seconds the best trial took (what one more fit with its parameters should take)
    best_trial: int = 0
    stopped: str = ""


def search(objective: Objective, *, direction: str, budget_s: float, seed: int, max_trials: int | None,
           first_params: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
           on_trial: OnTrial | None = None, safety: float = 1.5,
           reserve: Callable[[SearchResult], float] | None = None,
           plateau: int | None = PLATEAU_TRIALS, fixed: bool = False) -> SearchResult:
    """Run trials until `max_trials` (None: no cap), until a plateau (`plateau` trials after the first
    parameters without a better score), or until the time left is under `safety` × the slowest trial plus
    what `reserve` keeps for after the search (e.g. bagging the best parameters).

    The first trial always runs (with the first of `first_params` if given: one configuration, or a portfolio
    of sound ones tried in order before the sampler chooses), so a tiny budget still yields a model; the
    objective gets the search deadline and is expected to stop its own training by then.

    `fixed` (a reproducible build): exactly `max_trials` trials (or fewer on a plateau, which counts trials), the
    objective gets no deadline, and the clock never ends the search; past `budget_s` (the hard cap the caller
    sets) it raises instead of returning a different result.
    """
    started = time.monotonic()
    deadline = started + max(0.0, budget_s)
    portfolio = ([] if not first_params else [first_params] if isinstance(first_params, dict) else list(first_params))
    startup = 8 if max_trials is None else min(8, max(2, max_trials // 4))
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    study = optuna.create_study(direction="maximize" if direction == "higher" else "minimize",
                                sampler=sampler)
    for params in portfolio:
        study.enqueue_trial(params)
    result = SearchResult()
    while max_trials is None or result.trials + result.failed < max_trials:
        interrupts.check()  # a Ctrl-C swallowed inside the last trial stops the search here
        left = deadline - time.monotonic()
        kept = reserve(result) if reserve is not None and result.trials and not fixed else 0.0
        if fixed:
            if left < 0:
                from mofang.models.reproducible import PlanOverrun

                raise PlanOverrun(f"reproducible build: the fixed plan of {max_trials} trials ran past its hard cap "
                                  f"({budget_s:.0f}s) after {result.trials + result.failed} trials; give the order "
                                  "more budget")
        elif result.trials + result.failed and (left <= 0 or left < safety * result.slowest_s + kept):
            result.stopped = (f"time: {left:.1f}s left < {safety:g} × slowest trial {result.slowest_s:.1f}s"
                              + (f" + {kept:.1f}s kept for bagging" if kept else ""))
            break
        if (plateau is not None and result.best_model is not None and result.trials > len(portfolio)
                and result.trials - result.best_trial >= plateau):
            result.stopped = (f"plateau: no better score in the {result.trials - result.best_trial} trials since "
                              f"trial {result.best_trial} (best {result.best_score:.5g})")
            break
        trial = study.ask()
        t0 = time.monotonic()
        try:
            score, model = objective(trial, float("inf") if fixed else deadline)
        except (ValueError, ArithmeticError) as exc:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            result.failed += 1
            result.stopped = f"last failure: {exc}"
            continue
        took = time.monotonic() - t0
        result.slowest_s = max(result.slowest_s, took)
        result.trials += 1
        if score is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, score)
            if result.best_model is None or _better(score, result.best_score, direction, PLATEAU_DELTA):
                result.best_trial = result.trials
            if _better(score, result.best_score, direction) or result.best_model is None:
                result.best_score, result.best_params, result.best_model = score, dict(trial.params), model
                result.best_s = took
        if result.best_model is None:
            result.best_model, result.best_params, result.best_s = model, dict(trial.params), took
        if on_trial is not None:
            on_trial(result.trials, time.monotonic() - started, result.best_score)
    else:
        result.stopped = result.stopped or f"reached {max_trials} trials"
    result.seconds = time.monotonic() - started
    return result


def _better(a: float, b: float | None, direction: str, delta: float = 0.0) -> bool:
    return b is None or (a > b + delta if direction == "higher" else a < b - delta)
