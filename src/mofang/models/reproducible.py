"""Reproducible builds (`reproducible: true` in the order): a fixed plan of trials sized from the budget up front,
every random source seeded, libraries single-threaded with their deterministic settings.

In this mode the model search is ended by its trial count, never by the clock: the deadlines the families
stop boosting or epochs at are lifted (early stopping on the validation score, which is deterministic, still
ends them), bagging always uses the family's folds, and a family that refits on train + valid always does.
What the clock still does: a hard cap at `HARD_CAP` × the family's planned seconds aborts the job with an error
rather than silently changing the result. Latency is measured as before but only as a gate limit
(`p95_latency_ms`); it never ranks candidates."""

from __future__ import annotations

import contextlib
import math
import os
import random
from collections.abc import Iterator
from typing import Any

import numpy as np

from mofang.core.errors import MofangError

THREADS = 1  # every library's thread count in a reproducible build (recorded in the manifest)
HARD_CAP = 2.0  # a family still running at this multiple of its planned seconds aborts the job
HARD_CAP_FLOOR_S = 10.0  # ... and at least this many seconds past them (a family planned 0.5 s is not cut at 1 s)
DATA_SHARE = 0.2  # a reproducible plan counts this share of the budget as spent before the model workshop
MIN_TRIALS = 1
MAX_TRIALS = 200  # a family with no trial cap of its own gets at most this many in a fixed plan
# conservative seconds of one trial per 10,000 training rows and 20 feature columns, single-threaded (measured on
# a busy 2-core machine and rounded up); what a fixed plan divides a family's seconds by
TRIAL_COST_S = {"dummy": 0.05, "linear": 0.6, "knn": 0.8, "randomforest": 3.0, "extratrees": 2.5, "mlp": 6.0,
                "catboost": 6.0, "xgboost": 3.0, "lightgbm": 2.0}
DEFAULT_COST_S = 4.0
MIN_COST_S = 0.05  # no trial is planned cheaper than this, however small the table
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class PlanOverrun(MofangError):
    """A reproducible build's family ran past its hard cap: the job fails (the family is not dropped)."""


def hard_cap_s(seconds: float) -> float:
    """Seconds a family planned `seconds` may run in a reproducible build before the job fails."""
    return max(HARD_CAP * seconds, seconds + HARD_CAP_FLOOR_S)


def is_reproducible(order: Any) -> bool:
    """Whether the job's order asks for a reproducible build."""
    return bool(getattr(order, "reproducible", False))


def trial_cost_s(family: str, rows: int, columns: int) -> float:
    """The planned (conservative) seconds of one trial of `family` on a table of `rows` × `columns`."""
    base = TRIAL_COST_S.get(family, DEFAULT_COST_S)
    return max(MIN_COST_S, base * max(rows, 1) / 10_000 * max(1.0, columns / 20))


def planned_trials(family: str, seconds: float, rows: int, columns: int, max_trials: int | None,
                   extra_fits: int = 0) -> int:
    """The fixed number of trials `family` runs in its planned `seconds`: its seconds divided by the
    conservative cost of one trial, less the fits it makes after the search (`extra_fits`: bagging folds, a
    refit), capped by the family's own trial cap (or `MAX_TRIALS`); at least one."""
    cost = trial_cost_s(family, rows, columns)
    affordable = math.floor(max(0.0, seconds) / cost) - extra_fits
    cap = max_trials if max_trials is not None else MAX_TRIALS
    return int(max(MIN_TRIALS, min(cap, affordable)))


def seed_everything(seed: int) -> dict[str, Any]:
    """Seed Python's, NumPy's and (when installed) torch's global generators; returns what was set."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    seeded = {"python": seed, "numpy": seed % 2**32}
    with contextlib.suppress(ImportError):
        import torch

        torch.manual_seed(seed)
        seeded["torch"] = seed
    return seeded


@contextlib.contextmanager
def deterministic_torch(threads: int = THREADS) -> Iterator[None]:
    """torch with deterministic algorithms and `threads` intra-op threads for the block; restored after."""
    import torch

    before_threads, before_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before_det)
        torch.set_num_threads(before_threads)


def thread_settings() -> dict[str, Any]:
    """The thread counts a reproducible build uses (the libraries' own, and the environment's BLAS/OpenMP)."""
    return {"libraries": THREADS, **{name: os.environ.get(name) for name in THREAD_VARIABLES}}
