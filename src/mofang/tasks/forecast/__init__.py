"""Time-series forecasting: the next `horizon` steps of each series, with intervals, backtested."""

from __future__ import annotations

from mofang.core.resources import Needs
from mofang.core.tasks import TaskSpec

PACKAGE = "mofang.tasks.forecast"
FORECAST_METRICS = {"mase": "lower", "smape": "lower", "wql": "lower"}

SPEC = TaskSpec(
    name="time-series-forecast", description="the next steps of each time series, with intervals",
    metrics=FORECAST_METRICS, sections=("forecast",), needs=Needs(cpus=1, memory_gb=1),
    wizard=10,
    overrides={
        "data.split": f"{PACKAGE}.data:split",
        "model.plan": f"{PACKAGE}.model:plan",
        "model.train": f"{PACKAGE}.model:train",
        "model.select": f"{PACKAGE}.model:select",
        "evaluation.score": f"{PACKAGE}.evaluation:score",
        "evaluation.gate": f"{PACKAGE}.evaluation:gate",
        "evaluation.refit": f"{PACKAGE}.evaluation:refit",
        "evaluation.report": f"{PACKAGE}.evaluation:report",
        "integration.package": f"{PACKAGE}.integration:package",
        "integration.edge_bundle": f"{PACKAGE}.integration:edge_bundle",
        "integration.smoke_test": f"{PACKAGE}.integration:smoke_test",
    },
    hooks={
        "order.check": f"{PACKAGE}.order:check",
        "data.columns": f"{PACKAGE}.data:columns",
        "data.publish": f"{PACKAGE}.data:publish",
        "serving.app": f"{PACKAGE}.serving:app",
    })

SPECS = (SPEC,)
