"""Monitoring: the training reference written into the bundle, and input/prediction drift over served traffic.

Served rows are collected in tumbling windows of `window_rows`; each full window is compared with the
reference (PSI per feature and for the predictions, KS per numeric feature) and raises the alarm when any
statistic passes the order's `monitoring:` thresholds — a Prometheus gauge and a WARNING log line. `GET /drift`
shows the last full window and the window being filled (once it holds `min_rows`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from mofang.core.metrics import drift
from mofang.integration.reference import DEFAULT_THRESHOLDS, NUMERIC_KINDS
from mofang.models.features import coerce_value

log = logging.getLogger("mofang.products.monitoring")

Batches = list[tuple[list[dict[str, Any]], list[Any]]]  # served rows and their predictions, request by request






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
