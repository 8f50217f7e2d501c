"""Tabular robustness: the winner scored on perturbed copies of the test split (`perturbations`), the drop of
the order's primary metric per perturbation and the worst; the shared gate's hook `evaluation.robustness`.

The drop is absolute, as for text: clean − perturbed score (perturbed − clean for a metric where lower is
better, e.g. rmse), so a positive drop is always a loss of quality and `max_robustness_drop` reads it in the
metric's own units."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from mofang.core.tasks import spec as task_spec
from mofang.evaluation.robustness import RobustnessReport, worst_drop
from mofang.evaluation.scoring import score_candidate
from mofang.station.context import StationContext
from mofang.tasks.tabular.perturbations import MISSING_RATE, PERTURBATIONS, rng_for

ROWS = 5000  # test rows perturbed at most (a seeded sample when there are more): each copy is one batch predict


def robustness(ctx: StationContext, candidate: Any, test: pd.DataFrame, dataset: dict[str, Any],
               winner: dict[str, Any], rows: int) -> dict[str, Any] | None:
    """The winner's robustness on up to ROWS test rows, always measured (the report shows it). `rows` is the
    shared sample sized for slow text models; a tabular row costs microseconds, so ROWS are used instead."""
    return tabular_robustness(candidate, test, dataset["target"], dataset["features"], winner["primary_metric"],
                              seed=ctx.order.seed, rows=max(rows, ROWS))


def tabular_robustness(candidate: Any, df: pd.DataFrame, target: str, features: list[dict[str, Any]],
                       metric: str, seed: int = 0, rows: int = ROWS) -> dict[str, Any]:
    """{"metric", "clean_score", "rows": [{perturbation, score, drop, relative_drop, changed_share, detail}],
    "worst", "skipped": {perturbation: why}, "sample_rows", "rate", "seed", "examples"}: `candidate` scored by
    `metric` on the labelled rows of `df` (a seeded sample of `rows`) and on each perturbed copy."""
    df = df[df[target].notna()]
    if len(df) > rows:
        df = df.sample(rows, random_state=seed)
    df = df.reset_index(drop=True)
    higher = task_spec(candidate.task).metrics.get(metric, "higher") == "higher"
    clean = _score(candidate, df, target, metric)
    out, skipped, examples = [], {}, {}
    for name, perturb in PERTURBATIONS.items():
        perturbed = perturb(df, features, rng_for(seed, name))
        if not perturbed.columns:
            skipped[name] = "no feature it applies to"
            continue
        score = _score(candidate, perturbed.frame, target, metric)
        drop = clean - score if higher else score - clean
        out.append({"perturbation": name, "score": score, "drop": drop,
                    "relative_drop": drop / abs(clean) if clean and math.isfinite(clean) else None,
                    "changed_share": perturbed.changed_share, "detail": perturbed.detail})
        examples[name] = perturbed.examples
    report = RobustnessReport(clean_score=clean, rows=out, rate=MISSING_RATE, seed=seed, examples=examples)
    return {"metric": metric, "worst": worst_drop(report), "skipped": skipped, "sample_rows": len(df),
            **report.to_dict()}


def _score(candidate: Any, df: pd.DataFrame, target: str, metric: str) -> float:
    value = score_candidate(candidate, df, target).get(metric) if len(df) else None
    return float("nan") if value is None else float(value)
