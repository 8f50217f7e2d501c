"""Scoring a fitted candidate on labelled rows: predictions in, every metric of its task out."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.evaluation.metrics import compute_metrics


def predictions(candidate: Any, df: pd.DataFrame, target: str) -> dict[str, Any]:
    """Truth, predictions and (classification) probabilities on the labelled rows of `df`."""
    df = df[df[target].notna()].reset_index(drop=True)
    if candidate.is_classifier:
        proba = candidate.predict_proba(df)
        y_pred = candidate.labels(proba)
        return {"y_true": df[target].astype(str).to_numpy(), "y_pred": y_pred, "proba": proba}
    return {"y_true": df[target].to_numpy(dtype=float), "y_pred": candidate.predict(df), "proba": None}


def score_candidate(candidate: Any, df: pd.DataFrame, target: str) -> dict[str, float | None]:
    """All metrics of the candidate's task on the labelled rows of `df`."""
    p = predictions(candidate, df, target)
    return compute_metrics(candidate.task, p["y_true"], p["y_pred"], p["proba"], candidate.classes_)
