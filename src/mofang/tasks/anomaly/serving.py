"""The served anomaly product (the task's `serving.app` hook): `POST /score` (mofang.tasks.anomaly.product), its flags
as the drift signal, and labelled readings as feedback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from mofang.products.feedback import FeedbackError, Outcomes
from mofang.tasks.anomaly.product import anomaly_app

NOT_MONITORED = ("an anomaly product judges readings against its own calibrated notion of normal, so its flags are "
                 "the drift signal: compare the flagged share (mofang_predictions_total, class 'anomalous') with "
                 "the false-alarm rate in /metadata")
LABEL = "anomaly"  # the label field of an anomaly product trained without a label column
LABELS = {"1": 1, "0": 0, "true": 1, "false": 0, "yes": 1, "no": 0}


def app(bundle: Any, version: int | None, caller: Callable[..., Any], title: str, runtime: Any) -> FastAPI:
    """An anomaly product's API: POST /score; its runtime told that drift does not apply (its flags are the
    signal) and that feedback rows are readings with their label."""

    runtime.not_monitored(NOT_MONITORED)
    runtime.outcomes = outcomes(bundle.schema)
    return anomaly_app(bundle, version, caller, title, runtime)


def outcomes(schema: dict[str, Any]) -> Outcomes:
    """An anomaly product's feedback: readings as sent to /score plus their label, stored as 1 or 0."""
    target = schema.get("target") or LABEL
    return Outcomes(target, carried="readings as sent to /score",
                    help=f"Readings as sent to /score plus their label `{target}` (1 anomalous, 0 normal)",
                    check=lambda field, rows: [{**row, field: _label(i, row[field], field)}
                                               for i, row in enumerate(rows)])


def _label(i: int, value: Any, target: str) -> int:
    """An anomaly label as 1 (anomalous) or 0 (normal): 1/0, true/false or yes/no."""
    label = LABELS.get(str(value).strip().lower()) if not isinstance(value, float) else LABELS.get(f"{value:g}")
    if label is None:
        raise FeedbackError(f"rows[{i}]: label '{target}' must be 1 (anomalous) or 0 (normal), not {value!r}")
    return label
