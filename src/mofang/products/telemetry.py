"""Served-product telemetry: Prometheus metrics and the aggregated audit of who called what.

Audit granularity: one `product.called` event per (caller, product, endpoint, minute) with its request, row
and error counts, written when the minute is over (on the next call) or when the server stops. An event
per request would put a hash-chained, locked append in every request's path; a minute's aggregate keeps
who-called-what exact to the minute at a cost independent of traffic.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import defaultdict
from collections.abc import Collection, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.metrics_core import Metric

from mofang.security.audit import AuditLog

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
CALLED = "product.called"


class ServingMetrics:
    """The Prometheus metrics of one server (one registry, every product it serves labelled by name)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("mofang_requests", "Requests by product, endpoint and HTTP status",
                                ["product", "version", "endpoint", "status"], registry=r)
        self.latency = Histogram("mofang_request_latency_seconds", "Request latency in seconds",
                                 ["product", "endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.rows = Counter("mofang_rows", "Rows scored (throughput: rate of this counter)", ["product"], registry=r)
        self.batch_rows = Histogram("mofang_batch_rows", "Rows per model call after micro-batching", ["product"],
                                    buckets=BATCH_BUCKETS, registry=r)
        self.predicted_class = Counter("mofang_predictions", "Predicted labels by class", ["product", "class"],
                                       registry=r)
        self.predicted_bucket = Counter("mofang_prediction_buckets", "Predicted values by bucket (upper edge of the "
                                        "training-reference decile they fall in)", ["product", "le"], registry=r)
        self.drift_alarm = Gauge("mofang_drift_alarm", "1 while the last drift window raised the alarm",
                                 ["product"], registry=r)
        self.drift_psi = Gauge("mofang_drift_psi", "PSI of the last drift window", ["product", "feature"], registry=r)
        self.drift_ks = Gauge("mofang_drift_ks", "KS statistic of the last drift window", ["product", "feature"],
                              registry=r)

    def exposition(self, products: Collection[str] | None = None) -> bytes:
        """The Prometheus text of every series, or only of `products` (a caller reads the products it may call)."""
        if products is None:
            return generate_latest(self.registry)
        return generate_latest(_Only(self.registry, frozenset(products)))  # type: ignore[arg-type]

    def drift(self, product: str, result: dict[str, Any]) -> None:
        self.drift_alarm.labels(product).set(1.0 if result["alarm"] else 0.0)
        for name, entry in result["features"].items():
            self.drift_psi.labels(product, name).set(entry["psi"])
            if entry.get("ks") is not None:
                self.drift_ks.labels(product, name).set(entry["ks"])
        self.drift_psi.labels(product, "__prediction__").set(result["prediction"]["psi"])


class _Only:
    """A registry's metrics with only the series labelled with one of `products` (for `generate_latest`)."""

    def __init__(self, registry: CollectorRegistry, products: frozenset[str]) -> None:
        self.registry, self.products = registry, products

    def collect(self) -> Iterator[Metric]:
        for metric in self.registry.collect():
            kept = copy.copy(metric)
            kept.samples = [s for s in metric.samples if s.labels.get("product") in self.products]
            yield kept


class CallAudit:
    """Counts calls per (caller, tenant, product, endpoint, minute) and writes each finished minute to the
    audit trail as one event."""

    def __init__(self, meta: Any) -> None:
        self.meta = meta
        self._counts: dict[tuple[str, str | None, str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
        self._lock = threading.Lock()

    def record(self, caller: str, tenant: str | None, product: str, endpoint: str, rows: int, error: bool) -> None:
        minute = int(time.time() // 60)
        with self._lock:
            counts = self._counts[(caller, tenant, product, endpoint, minute)]
            counts[0] += 1
            counts[1] += rows
            counts[2] += int(error)
            stale = any(key[4] < minute for key in self._counts)
        if stale:
            self.flush(before=minute)

    def flush(self, before: int | None = None) -> int:
        """Write the counts of minutes before `before` (all when None) to the audit trail; returns events written."""

        with self._lock:
            done = {k: v for k, v in self._counts.items() if before is None or k[4] < before}
            for key in done:
                del self._counts[key]
        log = AuditLog(self.meta)
        for (caller, tenant, product, endpoint, minute), (requests, rows, errors) in sorted(done.items(),
                                                                                              key=lambda i: i[0][4]):
            at = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(minute * 60))
            log.record(CALLED, actor=caller, tenant=tenant, object=product,
                       details={"endpoint": endpoint, "minute": at, "requests": requests, "rows": rows,
                                "errors": errors})
        return len(done)
