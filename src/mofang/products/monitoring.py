"""Monitoring: the training reference written into the bundle, and input/prediction drift over served traffic.

Served rows are collected in tumbling windows of `window_rows`; each full window is compared with the
reference (PSI per feature and for the predictions, KS per numeric feature) and raises the alarm when any
statistic passes the order's `monitoring:` thresholds — a Prometheus gauge and a WARNING log line. `GET /drift`
shows the last full window and the window being filled (once it holds `min_rows`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mofang.core.tasks import spec as task_spec
from mofang.models import Candidate
from mofang.models.features import coerce_column, coerce_value
from mofang.products import drift

log = logging.getLogger("mofang.products.monitoring")

REFERENCE_FILE = "reference.json"
REFERENCE_ROWS = 5000
DEFAULT_THRESHOLDS = {"window_rows": 500, "min_rows": 200, "psi_alarm": 0.25, "ks_alarm": 0.2,
                      "prediction_psi_alarm": 0.25}
NUMERIC_KINDS = ("numeric", "boolean")
Batches = list[tuple[list[dict[str, Any]], list[Any]]]  # served rows and their predictions, request by request


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
    from mofang.products.serving import answers_rows

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


class DriftMonitor:
    """Collects served rows and predictions in tumbling windows and compares each with the reference."""

    def __init__(self, reference: dict[str, Any], features: list[dict[str, Any]], *, product: str,
                 on_result: Callable[[dict[str, Any]], None] | None = None, background: bool = False) -> None:
        """With `background`, a full window is evaluated in a thread of its own (one at a time, in order), off
        the request's path; `settle` waits for it (GET /drift and GET /metrics do)."""
        self.reference = reference
        self.thresholds = {**DEFAULT_THRESHOLDS, **reference.get("thresholds", {})}
        self.features = [f for f in features if f["name"] in reference["features"]]
        self.product = product
        self.on_result = on_result
        self._lock = threading.Lock()
        self._reset()
        self.last: dict[str, Any] | None = None
        self.windows = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"drift-{product}") if background else None
        self._pending: Future[None] | None = None

    def _reset(self) -> None:
        self._batches: Batches = []  # as served; read and binned once per window
        self._rows = 0

    def observe(self, records: list[dict[str, Any]], predictions: list[Any]) -> None:
        """Add served rows (as sent) and their predictions: an O(1) append in the request's path; the values
        are read and binned once per window, when it fills (or when `report` asks for the current one)."""
        window = None
        with self._lock:
            self._batches.append((records, predictions))
            self._rows += len(records)
            if self._rows >= self.thresholds["window_rows"]:
                window, rows = self._batches, self._rows
                self._reset()
        if window is None:
            return
        if self._executor is not None:
            self._pending = self._executor.submit(self._finish, window, rows)
        else:
            self._finish(window, rows)

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until the windows already full are evaluated (background mode)."""
        pending = self._pending
        if pending is not None:
            pending.result(timeout)

    def _finish(self, window: Batches, rows: int) -> None:
        finished = self._evaluate(window, rows)
        with self._lock:
            self.last, self.windows = finished, self.windows + 1
            number = self.windows
        if finished["alarm"]:
            log.warning("drift alarm: product %s window %d (%d rows): %s", self.product, number,
                        finished["rows"], "; ".join(finished["reasons"]))
        if self.on_result is not None:
            self.on_result(finished)

    def report(self) -> dict[str, Any]:
        """What `GET /drift` answers."""
        self.settle()
        with self._lock:
            batches, rows, last, windows = list(self._batches), self._rows, self.last, self.windows
        current = self._evaluate(batches, rows) if rows >= self.thresholds["min_rows"] else {"rows": rows}
        alarm = bool((last or {}).get("alarm")) or bool(current.get("alarm"))
        return {"product": self.product, "alarm": alarm, "thresholds": self.thresholds,
                "windows_completed": windows, "last_window": last, "current_window": current}

    def _columns(self, batches: Batches) -> tuple[dict[str, list[Any]], list[Any]]:
        """The window's values per monitored feature (numeric kinds read as numbers) and its flat predictions."""
        values: dict[str, list[Any]] = {}
        for f in self.features:
            name, kind, dayfirst = f["name"], f["kind"], f.get("dayfirst")
            if kind in NUMERIC_KINDS:
                values[name] = [_number(row.get(name), kind, dayfirst) for records, _ in batches for row in records]
            else:
                values[name] = [row.get(name) for records, _ in batches for row in records]
        flat = [label for _, predictions in batches for p in predictions
                for label in (p if isinstance(p, list | tuple) else [p])]
        return values, flat

    def _evaluate(self, batches: Batches, rows: int) -> dict[str, Any]:
        t, reasons = self.thresholds, []
        columns, predictions = self._columns(batches)
        features: dict[str, Any] = {}
        for f in self.features:
            name, profile = f["name"], self.reference["features"][f["name"]]
            values = columns[name]
            entry: dict[str, Any] = {"kind": profile["kind"],
                                     "psi": round(drift.psi(profile["probs"], drift.histogram(profile, values)), 4)}
            if profile["kind"] == "numeric":
                ks = drift.ks_statistic(profile["quantiles"], values)
                entry["ks"] = None if ks is None else round(ks, 4)
                if ks is not None and ks > t["ks_alarm"]:
                    reasons.append(f"{name}: KS {ks:.3f} > {t['ks_alarm']}")
            if entry["psi"] > t["psi_alarm"]:
                reasons.append(f"{name}: PSI {entry['psi']:.3f} > {t['psi_alarm']}")
            features[name] = entry
        profile = self.reference["prediction"]
        prediction_psi = round(drift.psi(profile["probs"], drift.histogram(profile, predictions)), 4)
        if prediction_psi > t["prediction_psi_alarm"]:
            reasons.append(f"predictions: PSI {prediction_psi:.3f} > {t['prediction_psi_alarm']}")
        return {"rows": rows, "alarm": bool(reasons), "reasons": reasons, "features": features,
                "prediction": {"psi": prediction_psi}}


def _number(value: Any, kind: str, dayfirst: bool | None) -> float:
    if value is None:
        return float("nan")
    try:
        parsed = coerce_value(value, kind, dayfirst)
    except (TypeError, ValueError):
        return float("nan")
    return float("nan") if parsed is None else float(parsed)
