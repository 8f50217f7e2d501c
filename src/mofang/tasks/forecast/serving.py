"""The served forecast product (the task's `serving.app` hook): `POST /forecast` (mofang.tasks.forecast.product), no
drift monitor, and observed actuals as feedback."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
from fastapi import FastAPI

from mofang.products.feedback import FeedbackError, Outcomes
from mofang.tasks.forecast.product import forecast_app

NOT_MONITORED = ("a forecast product is asked for a series id and a horizon, not feature rows: there are no served "
                 "inputs to compare with a training reference (send observed actuals to POST /feedback to follow "
                 "its accuracy)")


def app(bundle: Any, version: int | None, caller: Callable[..., Any], title: str, runtime: Any) -> FastAPI:
    """A forecast product's API: POST /forecast; its runtime told that drift does not apply and that feedback
    rows are observed actuals."""

    runtime.not_monitored(NOT_MONITORED)
    runtime.outcomes = outcomes(bundle.schema)
    return forecast_app(bundle, version, caller, title, runtime)


def outcomes(schema: dict[str, Any]) -> Outcomes:
    """A forecast's feedback: observed actuals {series_id, time, target} of the series it knows."""
    target, series = str(schema["target"]), list(schema.get("series") or [])
    return Outcomes(target, carried="series id and time",
                    help=f"Observed actuals: {{series_id, time, `{target}`}} per series and time step",
                    check=lambda field, rows: [_actual(i, row, field, series) for i, row in enumerate(rows)])


def _actual(i: int, row: dict[str, Any], target: str, series: list[str]) -> dict[str, Any]:
    """One observed actual of a forecast product, checked: a known series, a readable time, a finite number;
    stored as {series_id, time (ISO), target (a number)}."""

    unknown = sorted(set(row) - {"series_id", "time", target})
    if unknown:
        raise FeedbackError(f"rows[{i}]: unknown fields {unknown}; an actual is {{series_id, time, {target}}}")
    key = "" if row.get("series_id") is None else str(row["series_id"])
    if key not in series:
        raise FeedbackError(f"rows[{i}]: unknown series id '{key}'; the model knows {len(series)} series")
    try:
        when = pd.Timestamp(str(row.get("time")))
    except (TypeError, ValueError):
        when = pd.NaT
    if pd.isna(when):
        raise FeedbackError(f"rows[{i}]: cannot read time {row.get('time')!r} as a date/time")
    value = row[target]
    number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    if not math.isfinite(number):
        raise FeedbackError(f"rows[{i}]: the actual '{target}' must be a finite number, not {value!r}")
    return {"series_id": key, "time": when.isoformat(), target: number}
