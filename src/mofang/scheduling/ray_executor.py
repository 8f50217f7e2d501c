"""The Ray executor: each claimed job runs as a Ray task (the same `mofang.line.run`), reserving its needs as
Ray resources; the driver (this worker) keeps the leases and heartbeats.

Ray ties a task to its owner: when this driver dies its tasks are killed with it and its leases expire, so
another worker resumes the jobs. The task reads MOFANG_HOME and the master key where it runs: on a cluster
every node needs the same home (shared storage) and key (environment or key file). The key is never passed
through Ray. Inside the task MOFANG_DATA_EXECUTOR=ray lets batched data operators map over Ray Data.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from mofang.core.config import settings
from mofang.core.raycluster import connect
from mofang.core.resources import Needs
from mofang.line import JobFailed, run
from mofang.scheduling.log import JsonLog, JsonProgress
from mofang.scheduling.queue import Claim, Queue
from mofang.scheduling.retry import classify
from mofang.scheduling.worker import LeaseKeeper, Outcome, WorkerSpec, housekeeping, load_line, record
from mofang.store import ArtifactStore, MetaStore

DATA_EXECUTOR_ENV = "MOFANG_DATA_EXECUTOR"


def run_job_task(job_id: int, tenant: str, attempt: int, home: str, db_url: str, line: str | None,
                 worker: str) -> dict[str, Any]:
    """The body of the Ray task: one attempt at a job through the line runner, in a Ray worker process.

    Returns the outcome as plain data: an exception's class and cause chain do not survive Ray's pickling,
    so failures are classified here, where the cause is known.
    """
    os.environ["MOFANG_HOME"], os.environ["MOFANG_DB_URL"] = home, db_url
    os.environ[DATA_EXECUTOR_ENV] = "ray"

    meta = MetaStore(db_url)
    log = JsonLog(Path(home), worker)
    progress = JsonProgress(log, job_id, tenant, attempt)
    times = os.times()
    cpu0 = times.user + times.system
    result: dict[str, Any] = {"outcome": "failed", "error_kind": "transient", "error_type": None, "error": None}
    try:
        job = run(job_id, meta=meta, artifacts=ArtifactStore(Path(home)), progress=progress, stations=load_line(line))
        result.update(outcome=job.status, error_kind=None)
    except KeyboardInterrupt:  # ray.cancel: the runner has recorded the job as interrupted
        result.update(outcome="interrupted", error_kind=None)
    except JobFailed as exc:
        cause = exc.__cause__ or exc
        result.update(error_kind=classify(exc), error_type=type(cause).__name__, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - classified like the local executor's
        result.update(error_kind=classify(exc), error_type=type(exc).__name__, error=f"{type(exc).__name__}: {exc}")
    finally:
        meta.dispose()
    times = os.times()
    result["cpu_s"] = times.user + times.system - cpu0
    result["stations"] = progress.stations
    return result


class RayWorker:
    """A driver that keeps up to `spec.slots` claimed jobs running as Ray tasks."""

    name = "ray"

    def __init__(self, spec: WorkerSpec, queue: Queue, home: Path, me: str, log: JsonLog,
                 stop: threading.Event) -> None:
        self.ray = connect(spec.ray_address)
        self.spec, self.queue, self.home, self.me, self.log, self.stop = spec, queue, home, me, log, stop
        self.remote = self.ray.remote(max_retries=0)(run_job_task)  # retries are the queue's, with backoff
        self.inflight: dict[Any, tuple[Claim, float]] = {}  # ObjectRef -> (claim, monotonic start)
        self._cancel: set[int] = set()
        self._lost: set[int] = set()
        self._cancelling: dict[int, float] = {}  # job id -> when the polite cancel was sent
        self._lock = threading.Lock()

    def fits(self, needs: Needs, _reserved: list[Needs]) -> bool:
        """Whether the cluster has the job's needs free now (Ray itself places the task on a node)."""
        free = self.ray.available_resources()
        return (needs.cpus <= free.get("CPU", 0.0) + 1e-9 and needs.gpu <= free.get("GPU", 0.0)
                and needs.memory_gb * 2**30 <= free.get("memory", float("inf")))

    def serve(self) -> int:
        keeper = LeaseKeeper(self.queue, self.log, self._usage, on_cancel=self._flag(self._cancel),
                             on_lost=self._flag(self._lost))
        keeper.start()
        attempts = 0
        try:
            while not self.stop.is_set():
                housekeeping(self.queue, self.log)
                while len(self.inflight) < self.spec.slots:
                    began = time.perf_counter()
                    claim = self.queue.claim(self.me, node="ray", fits=self.fits, executor=self.name)
                    if claim is None:
                        break
                    attempts += 1
                    self._submit(claim, keeper, time.perf_counter() - began)
                if not self.inflight:
                    if self.spec.once and self.queue.idle():
                        break
                    self.stop.wait(self.queue.config.poll_s)
                    continue
                self._act_on_flags(keeper)
                ready, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=self.queue.config.poll_s)
                for ref in ready:
                    self._collect(ref, keeper)
        except KeyboardInterrupt:
            for ref in list(self.inflight):  # stop the tasks; their jobs are queued again
                self.ray.cancel(ref)
            for ref in list(self.inflight):
                self._collect(ref, keeper, stopping=True)
        finally:
            keeper.stop()
        return attempts

    def _flag(self, flags: set[int]) -> Any:
        def mark(claim: Claim) -> None:
            with self._lock:
                flags.add(claim.job_id)
        return mark

    def _submit(self, claim: Claim, keeper: LeaseKeeper, claim_s: float) -> None:

        options: dict[str, Any] = {"num_cpus": claim.needs.cpus, "num_gpus": claim.needs.gpu}
        if claim.needs.memory_gb:
            options["memory"] = int(claim.needs.memory_gb * 2**30)

        ref = self.remote.options(**options).remote(claim.job_id, claim.tenant, claim.attempt, str(self.home),
                                                    settings().db_url, self.spec.line, self.me)
        self.inflight[ref] = (claim, time.monotonic())
        keeper.add(claim)
        self.log.event("job.claimed", job=claim.job_id, tenant=claim.tenant, order=claim.order_id,
                       attempt=claim.attempt, executor=self.name, claim_s=round(claim_s, 5))

    def _act_on_flags(self, keeper: LeaseKeeper) -> None:
        with self._lock:
            cancel, lost = set(self._cancel), set(self._lost)
            self._cancel.clear()
            self._lost.clear()
        for ref, (claim, _started) in list(self.inflight.items()):
            if claim.job_id in lost:  # another worker owns it now: kill the task, record nothing
                self.ray.cancel(ref, force=True)
                self.inflight.pop(ref)
                keeper.remove(claim)
                self._cancelling.pop(claim.job_id, None)
            elif claim.job_id in cancel:  # a KeyboardInterrupt in the task: the runner records it and seals
                self.ray.cancel(ref)
                self._cancelling[claim.job_id] = time.monotonic()
            elif time.monotonic() - self._cancelling.get(claim.job_id, float("inf")) > self.queue.config.lease_s:
                # Ray's interrupt waits for the task's next Python bytecode (a blocking call delays it): after a
                # lease's time, kill the worker process — the crash path, which resume handles
                self.ray.cancel(ref, force=True)
                self._cancelling[claim.job_id] = float("inf")

    def _collect(self, ref: Any, keeper: LeaseKeeper, stopping: bool = False) -> None:
        claim, _started = self.inflight[ref]
        cancelled = claim.job_id in keeper.cancelled
        try:
            result = self.ray.get(ref)
            outcome = Outcome(result["outcome"], result.get("error_kind"), result.get("error_type"),
                              result.get("error"), [tuple(s) for s in result.get("stations", [])],
                              result.get("cpu_s"))
        except Exception as exc:  # noqa: BLE001 - the task died (worker or node lost) or was cancelled
            if type(exc).__name__ == "TaskCancelledError" or stopping:
                outcome = Outcome("interrupted")
            else:
                outcome = Outcome("failed", classify(exc), type(exc).__name__, f"{type(exc).__name__}: {exc}")
        cpu_s, run_s = self._usage(claim)
        if outcome.cpu_s is not None:
            cpu_s = outcome.cpu_s
        if cancelled and outcome.outcome in ("interrupted", "failed"):
            outcome = Outcome("cancelled", stations=outcome.stations)
        self.inflight.pop(ref, None)
        self._cancelling.pop(claim.job_id, None)
        beats = keeper.remove(claim)
        record(self.queue, self.log, claim, outcome, cpu_s=cpu_s, run_s=run_s, executor=self.name, beats=beats)

    def _usage(self, claim: Claim) -> tuple[float, float]:
        """While a task runs its CPU is charged as reserved: wall seconds × CPUs (the task reports the real
        figure when it ends)."""
        for held, started in self.inflight.values():
            if held.job_id == claim.job_id:
                wall = time.monotonic() - started
                return wall * claim.needs.cpus, wall
        return 0.0, 0.0
