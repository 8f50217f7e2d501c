"""Scoring a fitted candidate on labelled rows: predictions in, every metric of its task out."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.core.metrics.predictive import compute_metrics
from mofang.core.tasks import spec as task_spec
from mofang.evaluation.robustness import robustness_report, worst_drop
from mofang.evaluation.slices import column_slices, length_slices


def predictions(candidate: Any, df: pd.DataFrame, target: str) -> dict[str, Any]:
    """Truth, predictions and (classification) probabilities on the labelled rows of `df`."""
    df = df[df[target].notna()].reset_index(drop=True)
    if candidate.is_classifier:
        proba = candidate.predict_proba(df)
        y_pred = candidate.labels(proba)
        truth = (candidate.truth(df[target]) if getattr(candidate, "is_multi_label", False)
                 else df[target].astype(str).to_numpy())
        return {"y_true": truth, "y_pred": y_pred, "proba": proba}
    return {"y_true": df[target].to_numpy(dtype=float), "y_pred": candidate.predict(df), "proba": None}


def score_candidate(candidate: Any, df: pd.DataFrame, target: str) -> dict[str, float | None]:
    """All metrics of the candidate's task on the labelled rows of `df`."""
    p = predictions(candidate, df, target)
    return compute_metrics(candidate.task, p["y_true"], p["y_pred"], p["proba"], candidate.classes_,
                           multi_label=getattr(candidate, "is_multi_label", False))


REPORT_ONLY_ROWS = 300  # rows perturbed when the order does not gate on robustness
ROBUSTNESS_ROWS = 2000  # test rows perturbed (a seeded sample when there are more)
LABEL_METRICS = ("f1_macro", "f1_micro", "accuracy", "precision_macro", "recall_macro", "hamming_loss")


def text_robustness(candidate: Any, df: pd.DataFrame, target: str, features: list[dict[str, Any]],
                    metric: str, seed: int = 0, rows: int = ROBUSTNESS_ROWS) -> dict[str, Any]:
    """The robustness suite (`mofang.evaluation.robustness`) on a text model's labelled rows: each row's
    text columns joined by a line break (as the model reads them) are perturbed and predicted again.
    Scored by `metric` when it needs labels only, else f1_macro. Other (non-text) inputs are left
    missing on both the clean and the perturbed side, so the drop measures the text alone."""
    text_columns = [f["name"] for f in features if f["kind"] == "text"]
    df = df[df[target].notna()]
    if len(df) > rows:
        df = df.sample(rows, random_state=seed)
    df = df.reset_index(drop=True)
    texts = ["\n".join("" if pd.isna(v) else str(v) for v in row) for row in df[text_columns].itertuples(index=False)]
    name = metric if metric in LABEL_METRICS else "f1_macro"
    multi = getattr(candidate, "is_multi_label", False)

    def predict(batch: list[str]) -> Any:
        frame = pd.DataFrame({f["name"]: [None] * len(batch) for f in features})
        frame[text_columns[0]] = batch
        for column in text_columns[1:]:
            frame[column] = ""
        return candidate.predict(frame)

    def score(y_true: Any, y_pred: Any) -> float:
        value = compute_metrics(candidate.task, y_true, y_pred, None, candidate.classes_, multi_label=multi)[name]
        return float("nan") if value is None else value

    report = robustness_report(predict, texts, candidate.truth(df[target]), score, seed=seed,
                               greater_is_better=task_spec(candidate.task).metrics[name] == "higher")
    return {"metric": name, "worst": worst_drop(report), **report.to_dict()}


def text_slices(candidate: Any, df: pd.DataFrame, target: str, features: list[dict[str, Any]],
                metric: str) -> list[dict[str, Any]]:
    """The winner's `metric` on test slices: by text length (quartile buckets), and by every categorical
    feature (e.g. a source or department column) with enough rows."""
    df = df[df[target].notna()].reset_index(drop=True)
    if df.empty:
        return []
    p = predictions(candidate, df, target)
    multi = getattr(candidate, "is_multi_label", False)
    name = metric if metric in LABEL_METRICS else "f1_macro"

    def score(y_true: Any, y_pred: Any) -> float | None:
        return compute_metrics(candidate.task, y_true, y_pred, None, candidate.classes_, multi_label=multi)[name]

    text_columns = [f["name"] for f in features if f["kind"] == "text"]
    texts = ["\n".join("" if pd.isna(v) else str(v) for v in row) for row in df[text_columns].itertuples(index=False)]
    rows = [{"by": "text length", **r} for r in length_slices(texts, p["y_true"], p["y_pred"], score)]
    for feature in features:
        if feature["kind"] == "categorical" and feature["name"] in df.columns:
            rows += [{"by": feature["name"], **r}
                     for r in column_slices(df[feature["name"]].tolist(), p["y_true"], p["y_pred"], score)]
    return [{**r, "metric": name} for r in rows]
