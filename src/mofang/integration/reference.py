"""The drift reference a bundle carries (`reference.json`): a profile of the training rows the product learnt
from and of its predictions on them, which the product's drift monitor compares served traffic with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mofang.core.metrics import drift
from mofang.core.tasks import spec as task_spec
from mofang.integration.bundle import REFERENCE_FILE, answers_rows
from mofang.models import Candidate
from mofang.models.features import coerce_column

REFERENCE_ROWS = 5000
DEFAULT_THRESHOLDS = {"window_rows": 500, "min_rows": 200, "psi_alarm": 0.25, "ks_alarm": 0.2,
                      "prediction_psi_alarm": 0.25}
NUMERIC_KINDS = ("numeric", "boolean")


def build_reference(frame: pd.DataFrame, features: list[dict[str, Any]], predictions: list[Any], *,
                    task: str, classes: list[str] | None, thresholds: dict[str, Any] | None = None) -> dict[str, Any]:
    """The reference profile of the training rows the product learnt from and of its predictions on them."""
    profiles: dict[str, Any] = {}
    for feature in features:
        name, kind = feature["name"], feature["kind"]
        if name not in frame.columns:
            continue
        if kind in NUMERIC_KINDS:
            values = coerce_column(frame[name], kind, feature.get("dayfirst")).astype(float)
            profiles[name] = drift.numeric_profile(values.to_numpy())
        elif kind == "text":
            profiles[name] = drift.text_profile(frame[name].tolist())
        elif kind == "categorical":
            profiles[name] = drift.categorical_profile(frame[name].tolist())
        # datetime features are not profiled: served dates move on by nature, so their drift is no alarm
    if task_spec(task).classes:
        flat = [label for p in predictions for label in (p if isinstance(p, list | tuple) else [p])]
        categories = [str(c) for c in classes or sorted(set(map(str, flat)))]
        prediction = drift.categorical_profile(flat, categories=categories)
    else:
        prediction = drift.numeric_profile(np.asarray(predictions, dtype=float))
    return {"rows": len(frame), "features": profiles, "prediction": prediction,
            "thresholds": {**DEFAULT_THRESHOLDS, **(thresholds or {})}}


def write_reference(folder: Path, ctx: Any) -> None:
    """Integration workshop hook: profile the job's training split and the winner's predictions on it into
    `<bundle>/reference.json` — for products that score rows at POST /predict (`serving.answers_rows`); a kind
    with routes of its own is not compared with a reference (a retrieval product is asked questions, series
    products — forecast, anomaly — score readings with their own notion of normal)."""
    dataset = ctx.load("dataset")
    if not answers_rows(dataset["task"]):
        return

    train = ctx.load("train")
    sample = train.sample(REFERENCE_ROWS, random_state=ctx.order.seed) if len(train) > REFERENCE_ROWS else train
    inputs = sample[[f["name"] for f in dataset["features"]]]
    predictions = Candidate.load(ctx.load("winner")["model_path"]).predict(inputs)
    predictions = [list(map(str, p)) if isinstance(p, list | tuple | np.ndarray) else p for p in predictions]
    monitoring = getattr(ctx.order, "monitoring", None)
    thresholds = monitoring.model_dump() if monitoring is not None else None
    reference = build_reference(sample, dataset["features"], list(predictions), task=dataset["task"],
                                classes=dataset.get("classes"), thresholds=thresholds)
    (folder / REFERENCE_FILE).write_text(json.dumps(reference, ensure_ascii=False), "utf-8")
