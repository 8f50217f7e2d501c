"""Sensor columns of an anomaly-detection order: the numeric readings the detectors watch, and its label."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mofang.core.errors import DataError
from mofang.data.pii import find_pii

SENSOR_KINDS = ("numeric", "boolean")


def choose_sensors(ctx: Any, frame: pd.DataFrame, profile: dict[str, Any], raw: pd.DataFrame) -> str:
    """Keep the order's `anomaly.sensors` (else every numeric column but the target, id and time columns) as
    features; save `features` and `guard_trace` as the tabular path does. Raises DataError naming a sensor
    that is missing, not numeric or holds personal data, or the time column when it is absent."""
    order = ctx.order
    columns = profile["columns"]
    time_column = order.time_column
    if time_column not in frame.columns:
        raise DataError(f"time column '{time_column}' (the order's 'time_column') is not in the data; columns: "
                        + ", ".join(str(c) for c in frame.columns if not str(c).startswith("__")))
    if order.target and order.target in frame.columns:
        check_labels(frame[order.target], order.target)
    named = (order.anomaly.sensors if order.anomaly else None) or []
    for name in named:
        if name not in columns:
            raise DataError(f"sensor '{name}' (the order's anomaly.sensors) is not in the data; columns: "
                            + ", ".join(str(c) for c in columns))
        if columns[name]["kind"] not in SENSOR_KINDS:
            raise DataError(f"sensor '{name}' (the order's anomaly.sensors) holds {columns[name]['kind']} values, "
                            "not numeric readings")
    roles = {order.target: "the order's target (the anomaly label)", order.id_column: "the order's id column",
             time_column: "the order's time column (orders the readings, never a feature)"}
    kept: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    pii: list[dict[str, Any]] = []
    for name, spec in columns.items():
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


def check_labels(values: pd.Series, column: str) -> None:
    """The anomaly label must read as 1/0 (true/false); DataError naming the column and bad values."""
    present = values.dropna()
    numbers = pd.to_numeric(present.astype(float) if present.dtype == bool else present, errors="coerce")
    bad = present[numbers.isna() | ~numbers.isin([0, 1])]
    if len(bad):
        raise DataError(f"anomaly label '{column}' must be 1 (anomalous reading) or 0 (normal); found "
                        f"{sorted({str(v) for v in bad.unique()[:5]})} in {len(bad):,} rows")


def labels_of(values: pd.Series) -> np.ndarray:
    """0/1 labels as an int array (missing counts as normal)."""
    numbers = pd.to_numeric(values.astype(float) if values.dtype == bool else values, errors="coerce")
    return (numbers.fillna(0).to_numpy(dtype=float) > 0.5).astype(int)


def anomaly_info(order: Any, features: dict[str, Any]) -> dict[str, Any]:
    """What the model workshop needs of an anomaly dataset beyond the features."""
    from mofang.orders.schema import AnomalySettings

    settings = order.anomaly or AnomalySettings()
    return {"time_column": order.time_column, "label": order.target,
            "sensors": [f["name"] for f in features["features"]], "window": settings.window,
            "false_alarm_rate": settings.false_alarm_rate}
