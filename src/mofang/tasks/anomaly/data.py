"""The anomaly-detection task at the data workshop: the sensor columns its detectors watch (the `data.columns`
hook) and the dataset's anomaly description (the `data.publish` hook)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.pii import find_pii
from mofang.data.sensors import check_labels
from mofang.orders.schema import AnomalySettings

SENSOR_KINDS = ("numeric", "boolean")


def columns(ctx: Any, frame: pd.DataFrame, profile: dict[str, Any], raw: pd.DataFrame) -> str:
    """Keep the order's `anomaly.sensors` (else every numeric column but the target, id and time columns) as
    features; save `features` and `guard_trace` as the tabular path does. Raises DataError naming a sensor
    that is missing, not numeric or holds personal data, or the time column when it is absent."""
    order = ctx.order
    profiled = profile["columns"]
    time_column = order.time_column
    if time_column not in frame.columns:
        raise DataError(f"time column '{time_column}' (the order's 'time_column') is not in the data; columns: "
                        + ", ".join(str(c) for c in frame.columns if not str(c).startswith("__")))
    if order.target and order.target in frame.columns:
        check_labels(frame[order.target], order.target)
    named = (order.anomaly.sensors if order.anomaly else None) or []
    for name in named:
        if name not in profiled:
            raise DataError(f"sensor '{name}' (the order's anomaly.sensors) is not in the data; columns: "
                            + ", ".join(str(c) for c in profiled))
        if profiled[name]["kind"] not in SENSOR_KINDS:
            raise DataError(f"sensor '{name}' (the order's anomaly.sensors) holds {profiled[name]['kind']} values, "
                            "not numeric readings")
    roles = {order.target: "the order's target (the anomaly label)", order.id_column: "the order's id column",
             time_column: "the order's time column (orders the readings, never a feature)"}
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    pii: list[dict[str, Any]] = []
    for name, spec in profiled.items():
        if name == order.target:
            continue
        reason = roles.get(name)
        if reason is None and named and name not in named:
            reason = "not one of the order's anomaly.sensors"
        if reason is None:
            reason = _not_a_sensor(name, spec["kind"], frame, raw, pii)
        if reason is None:
            kept.append({"name": name, "kind": "numeric"})
        else:
            dropped.append({"name": name, "reason": reason})
            if name != time_column:
                ctx.reason(f"dropped column {name}: {reason}")
    if not kept:
        raise DataError("no numeric sensor column remains to watch; dropped: "
                        + "; ".join(f"{d['name']} ({d['reason']})" for d in dropped))
    ctx.reason(f"sensors: {', '.join(f['name'] for f in kept)}"
               + (" (named by the order)" if named else " (every numeric column)")
               + f"; readings ordered by '{time_column}'")
    ctx.metric(features=len(kept), dropped=len(dropped), pii_columns=len(pii))
    ctx.param(features=[f["name"] for f in kept])
    ctx.save("features", {"features": kept, "dropped": dropped})
    ctx.save("guard_trace", {"pii": pii, "scores": {}})
    return f"{len(kept)} sensors, {len(dropped)} columns dropped ({len(pii)} PII)"


def _not_a_sensor(name: str, kind: str, frame: pd.DataFrame, raw: pd.DataFrame,
                  pii: list[dict[str, Any]]) -> str | None:
    if name not in frame.columns:
        return "removed by the recipe (see the data card's process traces)"
    finding = find_pii(name, raw[name])
    if finding is not None:
        pii.append({"column": name, "kind": finding.kind, "share": round(finding.share, 4)})
        return finding.description
    if kind not in SENSOR_KINDS:
        return f"{kind} values, not numeric readings"
    if frame[name].nunique() <= 1:
        return "constant (a sensor that never changes tells nothing)"
    return None


def publish(ctx: Any, parts: dict[str, pd.DataFrame], features: dict[str, Any]) -> dict[str, Any]:
    """The dataset's `anomaly` record: what the model workshop needs of an anomaly dataset beyond the features."""

    order = ctx.order
    settings = order.anomaly or AnomalySettings()
    return {"anomaly": {"time_column": order.time_column, "label": order.target,
                        "sensors": [f["name"] for f in features["features"]], "window": settings.window,
                        "false_alarm_rate": settings.false_alarm_rate}}
