"""Prometheus metrics of the scheduling service, and the registry a worker (or the REST API) exposes.

Workers observe attempt and station durations, retries, finished jobs and heartbeats; queue depth by state
and tenant and the age of each lease's last heartbeat are read from the metadata store at scrape time.
Under `mofang worker -n N` the worker processes share a PROMETHEUS_MULTIPROC_DIR that the supervisor serves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mofang.scheduling.queue import Queue
from mofang.store import MetaStore

_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, float("inf"))

ATTEMPT_SECONDS = Histogram("mofang_job_attempt_seconds", "Wall time of one attempt at a job, by how it ended",
                            ["outcome", "executor"], buckets=_BUCKETS)
STATION_SECONDS = Histogram("mofang_station_seconds", "Wall time of a station within an attempt",
                            ["station", "status"], buckets=_BUCKETS)
JOBS_FINISHED = Counter("mofang_jobs_finished_total", "Jobs that reached an end state", ["outcome"])
RETRIES = Counter("mofang_job_retries_total", "Attempts queued again: transient failures and lost workers",
                  ["kind"])
HEARTBEATS = Counter("mofang_worker_heartbeats_total", "Lease renewals by result (ok, cancel, lost, error)",
                     ["result"])
WORKERS_UP = Gauge("mofang_workers_up", "Worker processes alive", multiprocess_mode="livesum")


class QueueCollector(Collector):
    """Queue depth and worker health, read from the metadata store at each scrape."""

    def __init__(self, meta: MetaStore) -> None:
        self.meta = meta

    def collect(self) -> Iterator[Any]:
        queue = Queue(self.meta)
        try:
            depth = GaugeMetricFamily("mofang_queue_jobs", "Jobs in the queue by state and tenant",
                                      labels=["state", "tenant"])
            for (state, tenant), count in sorted(queue.depth().items()):
                depth.add_metric([state, tenant], count)
            yield depth
            now = time.time()
            age = GaugeMetricFamily("mofang_lease_heartbeat_age_seconds",
                                    "Seconds since each running job's worker last renewed its lease",
                                    labels=["worker", "job"])
            expired = 0
            for job, worker, beat, expires in queue.leases():
                age.add_metric([worker, str(job)], max(0.0, now - beat))
                expired += expires < now
            yield age
            stale = GaugeMetricFamily("mofang_leases_expired", "Leases past their expiry, not yet taken up again "
                                      "(a worker died)")
            stale.add_metric([], expired)
            yield stale
        finally:
            queue.close()


def registry(meta: MetaStore) -> CollectorRegistry:
    """The scheduling metrics: every worker process's (multiprocess mode) or this process's, plus the queue's."""
    reg = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(reg)
    else:
        for metric in (ATTEMPT_SECONDS, STATION_SECONDS, JOBS_FINISHED, RETRIES, HEARTBEATS, WORKERS_UP):
            reg.register(metric)
    reg.register(QueueCollector(meta))
    return reg


def render(meta: MetaStore) -> tuple[bytes, str]:
    """The metrics page and its content type (for a REST API route)."""
    return generate_latest(registry(meta)), CONTENT_TYPE_LATEST


def asgi_app(meta: MetaStore) -> Any:
    """An ASGI app serving the metrics page, to mount in the REST API: `app.mount("/metrics", asgi_app(meta))`."""
    from prometheus_client import make_asgi_app

    return make_asgi_app(registry(meta))


def serve(port: int, meta: MetaStore, addr: str = "127.0.0.1") -> Any:
    """Serve the metrics on http://addr:port/metrics from a daemon thread; returns the server."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=addr, registry=registry(meta))
    return server
