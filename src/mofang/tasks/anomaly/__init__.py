"""Sensor anomaly detection: readings scored, events flagged (labels optional), thresholds for a false-alarm rate."""

from __future__ import annotations

from mofang.core.resources import Needs
from mofang.core.tasks import TaskSpec

PACKAGE = "mofang.tasks.anomaly"
ANOMALY_METRICS = {"event_f1": "higher", "event_precision": "higher", "event_recall": "higher",
                   "detection_delay": "lower", "point_f1": "higher", "false_alarm_rate": "lower"}

SPEC = TaskSpec(
    name="anomaly-detection", description="anomalous readings and events in sensor data",
    metrics=ANOMALY_METRICS, target="optional", sections=("anomaly",), needs=Needs(cpus=1, memory_gb=1),
    wizard=10,
    overrides={
        "model.plan": f"{PACKAGE}.model:plan",
        "model.train": f"{PACKAGE}.model:train",
        "model.select": f"{PACKAGE}.model:select",
        "evaluation.score": f"{PACKAGE}.evaluation:score",
        "evaluation.gate": f"{PACKAGE}.evaluation:gate",
        "evaluation.report": f"{PACKAGE}.evaluation:report",
        "integration.smoke_test": f"{PACKAGE}.integration:smoke_test",
    },
    hooks={
        "integration.tool": f"{PACKAGE}.integration:tool",
        "order.check": f"{PACKAGE}.order:check",
        "data.columns": f"{PACKAGE}.data:columns",
        "data.publish": f"{PACKAGE}.data:publish",
        "integration.metadata": f"{PACKAGE}.integration:metadata",
        "serving.app": f"{PACKAGE}.serving:app",
    })

SPECS = (SPEC,)
