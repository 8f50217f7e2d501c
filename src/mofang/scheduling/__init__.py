"""The scheduling service (调度服务中心): a persistent job queue in the metadata store with priorities, per-tenant
fair share and quotas, leases and heartbeats, retries with backoff, and workers that run jobs locally
(`LocalWorker`, a process pool under `supervise`) or as Ray tasks (`RayWorker`).

Imports are lazy: the metadata store imports `mofang.scheduling.tables` to register its table, and that must
not pull in the queue, the workers or Ray.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Claim": "queue", "JobView": "queue", "Queue": "queue", "QueueError": "queue", "Quota": "queue",
    "SchedulerConfig": "config", "classify": "retry", "backoff_s": "retry", "job_needs": "placement",
    "LocalWorker": "worker", "WorkerSpec": "worker", "serve": "worker", "supervise": "worker",
    "RayWorker": "ray_executor", "QueueEntry": "tables", "submit": "submit", "run_here": "foreground",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mofang.scheduling' has no attribute {name!r}")
    return getattr(import_module(f"mofang.scheduling.{module}"), name)
