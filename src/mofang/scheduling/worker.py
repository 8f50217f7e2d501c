"""Workers: claim a job, keep its lease alive, run it through the line, record how it ended.

`serve(spec)` is one worker: the local executor runs each claimed job in this process (one at a time); the
Ray executor submits claimed jobs as Ray tasks (up to `spec.slots` at once) and keeps their leases from here.
`supervise(spec, n)` runs n worker processes (multiprocessing spawn), restarts any that die, and serves the
metrics. A worker whose lease was taken over (it stalled past the lease) exits at once, without touching the
job again: the crash path, which resume already handles, is safer than a second writer.
"""

from __future__ import annotations

import importlib
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mofang.core import interrupts
from mofang.core.config import settings
from mofang.core.errors import MofangError
from mofang.core.resources import Needs
from mofang.devices.inventory import local_node
from mofang.scheduling import metrics
from mofang.scheduling.config import SchedulerConfig
from mofang.scheduling.janitor import sweep_due
from mofang.scheduling.log import JsonLog, JsonProgress
from mofang.scheduling.placement import local_capacity
from mofang.scheduling.queue import Claim, Queue
from mofang.scheduling.retry import classify
from mofang.scheduling.tables import QUEUED, TERMINAL
from mofang.store import ArtifactStore, MetaStore

EXIT_LEASE_LOST = 75  # EX_TEMPFAIL: the supervisor restarts the worker
STOP_GRACE_S = 30.0  # Ctrl-C or SIGTERM to the supervisor: its workers get this long together, then are killed


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process needs (picklable: it crosses a spawn)."""

    home: str | None = None  # MOFANG_HOME (default: the environment's)
    db_url: str | None = None  # MOFANG_DB_URL (default: the environment's)
    executor: str = "local"  # "local" or "ray"
    once: bool = False  # exit when nothing is queued or running any more
    line: str | None = None  # "module:attribute" naming a list of stations (tests); None: the standard line
    ray_address: str | None = None  # None: MOFANG_RAY_ADDRESS, else a local Ray (or the one already started)
    slots: int = 1  # Ray: jobs in flight per driver
    config: dict[str, float] = field(default_factory=dict)  # SchedulerConfig overrides
    index: int = 0  # this worker's number under a supervisor
    exit_on_lost: bool = True  # hard exit when a lease is lost (off only for in-process use)


@dataclass
class Outcome:
    """How one attempt ended."""

    outcome: str  # done | rejected | failed | interrupted
    error_kind: str | None = None
    error_type: str | None = None
    error: str | None = None
    stations: list[tuple[str, str, float]] = field(default_factory=list)
    cpu_s: float | None = None


def worker_id() -> str:
    """host:pid:random — unique per process start, and names the process to kill in a test."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def load_line(line: str | None) -> list[Any] | None:
    """The stations named by "module:attribute" (a list, or a callable returning one); None: the standard line."""
    if not line:
        return None
    module, _, attribute = line.partition(":")
    if not attribute:
        raise ValueError(f"line {line!r} must be 'module:attribute'")
    value = getattr(importlib.import_module(module), attribute)
    return list(value() if callable(value) else value)


class LeaseKeeper(threading.Thread):
    """Renews the leases of this worker's running jobs every heartbeat, and says which to cancel or give up."""

    def __init__(self, queue: Queue, log: JsonLog, usage: Callable[[Claim], tuple[float, float]],
                 on_cancel: Callable[[Claim], None], on_lost: Callable[[Claim], None]) -> None:
        super().__init__(name="mofang-lease-keeper", daemon=True)
        self.queue, self.log, self.usage = queue, log, usage
        self.on_cancel, self.on_lost = on_cancel, on_lost
        self._claims: dict[int, tuple[Claim, float]] = {}  # job id -> (claim, last renewal)
        self.spent: dict[int, tuple[int, float]] = {}  # job id -> (heartbeats, seconds they took)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.cancelled: set[int] = set()

    def add(self, claim: Claim) -> None:
        with self._lock:
            self._claims[claim.job_id] = (claim, time.monotonic())

    def remove(self, claim: Claim) -> tuple[int, float]:
        """Stop renewing claim's lease; returns (heartbeats sent, seconds they took)."""
        with self._lock:
            self._claims.pop(claim.job_id, None)
            self.cancelled.discard(claim.job_id)
            return self.spent.pop(claim.job_id, (0, 0.0))

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.wait(self.queue.config.heartbeat_s):
            with self._lock:
                held = list(self._claims.values())
            for claim, renewed in held:
                self._renew(claim, renewed)

    def _renew(self, claim: Claim, renewed: float) -> None:
        began = time.perf_counter()
        try:
            cpu_s, run_s = self.usage(claim)
            result = self.queue.heartbeat(claim, cpu_s=cpu_s, run_s=run_s)
        except Exception as exc:  # noqa: BLE001 - a busy or unreachable database: try again next beat
            metrics.HEARTBEATS.labels("error").inc()
            self.log.event("heartbeat.failed", job=claim.job_id, error_type=type(exc).__name__)
            if time.monotonic() - renewed > self.queue.config.lease_s:
                result = "lost"  # past our own lease: another worker may own the job now
            else:
                return
        metrics.HEARTBEATS.labels(result).inc()
        with self._lock:
            if claim.job_id not in self._claims:
                return
            beats, seconds = self.spent.get(claim.job_id, (0, 0.0))
            self.spent[claim.job_id] = (beats + 1, seconds + time.perf_counter() - began)
            if result != "lost":
                self._claims[claim.job_id] = (claim, time.monotonic())
        if result == "cancel" and claim.job_id not in self.cancelled:
            self.cancelled.add(claim.job_id)
            self.log.event("job.cancelling", job=claim.job_id, tenant=claim.tenant)
            self.on_cancel(claim)
        elif result == "lost":
            self.log.event("lease.lost", job=claim.job_id, tenant=claim.tenant, attempt=claim.attempt)
            self.on_lost(claim)


def serve(spec: WorkerSpec, stop: threading.Event | None = None) -> int:
    """Run one worker until stopped (SIGINT/SIGTERM, `stop`), or with `spec.once` until the queue is drained.
    Returns the number of attempts it ran."""
    if spec.home:
        os.environ["MOFANG_HOME"] = spec.home
    if spec.db_url:
        os.environ["MOFANG_DB_URL"] = spec.db_url

    home = settings().home
    meta = MetaStore()
    queue = Queue(meta, SchedulerConfig.from_env(**spec.config))
    me = worker_id()
    log = JsonLog(home, me)
    stop = stop or threading.Event()
    metrics.WORKERS_UP.inc()
    log.event("worker.started", executor=spec.executor, worker_index=spec.index, slots=spec.slots)
    try:
        if spec.executor == "ray":
            from mofang.scheduling.ray_executor import RayWorker

            return RayWorker(spec, queue, home, me, log, stop).serve()
        if spec.executor != "local":
            raise MofangError(f"unknown executor '{spec.executor}' (expected: local, ray)")
        return LocalWorker(spec, queue, ArtifactStore(home), me, log, stop).serve()
    finally:
        metrics.WORKERS_UP.dec()
        log.event("worker.stopped", worker_index=spec.index)
        queue.close()
        meta.dispose()


class LocalWorker:
    """The local executor: runs each claimed job in this process, one at a time."""

    name = "local"

    def __init__(self, spec: WorkerSpec, queue: Queue, artifacts: Any, me: str, log: JsonLog,
                 stop: threading.Event) -> None:

        self.spec, self.queue, self.artifacts, self.me, self.log, self.stop = spec, queue, artifacts, me, log, stop
        self.stations = load_line(spec.line)
        self.node = local_node().name
        self._started: dict[int, tuple[float, float]] = {}  # job id -> (monotonic start, cpu at start)
        self._in_job = False  # main thread only: a job is inside the line runner now
        self._cancel_pending = False  # the keeper signalled a cancel that may not have landed yet

    def fits(self, needs: Needs, reserved: list[Needs]) -> bool:
        return local_capacity(reserved).nodes[0].holds(needs)

    def serve(self) -> int:
        keeper = LeaseKeeper(self.queue, self.log, self._usage, on_cancel=self._cancel, on_lost=self._lost)
        keeper.start()
        attempts = 0
        handlers = self._install_handlers()
        try:
            while not self.stop.is_set():
                housekeeping(self.queue, self.log)
                began = time.perf_counter()
                claim = self.queue.claim(self.me, node=self.node, fits=self.fits, executor=self.name)
                if claim is None:
                    if self.spec.once and self.queue.idle():
                        break
                    self.stop.wait(self.queue.config.poll_s)
                    continue
                if self.stop.is_set():  # told to stop while claiming: hand the job straight back
                    self.queue.finish(claim, "interrupted", cpu_s=0.0, run_s=0.0)
                    break
                attempts += 1
                if not self._attempt(claim, keeper, time.perf_counter() - began):
                    break  # stopped by a signal: the job was queued again
        finally:
            keeper.stop()
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        return attempts

    def _install_handlers(self) -> dict[int, Any]:
        """SIGINT/SIGTERM stop the job in the runner (it is queued again) or, between jobs, end the loop; a
        cancel signal that lands after its job ended is dropped. Decided where the signal is handled (the main
        thread), so a job that has just finished is never reported interrupted."""

        def handle(signum: int, _frame: Any) -> None:
            if self._in_job:
                interrupts.request()  # kept if the KeyboardInterrupt is swallowed on its way up
                raise KeyboardInterrupt
            if self._cancel_pending:
                self._cancel_pending = False
                return
            self.stop.set()

        if threading.current_thread() is not threading.main_thread():
            return {}  # signals reach the main thread only; cancel then waits for the job's end
        return {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}

    def _cancel(self, claim: Claim) -> None:
        self._cancel_pending = True
        _interrupt_main()

    def _attempt(self, claim: Claim, keeper: LeaseKeeper, claim_s: float) -> bool:
        """Run one claimed job; False when this worker was told to stop meanwhile."""
        self.log.event("job.claimed", job=claim.job_id, tenant=claim.tenant, order=claim.order_id,
                       attempt=claim.attempt, executor=self.name, node=self.node, claim_s=round(claim_s, 5))
        self._started[claim.job_id] = (time.monotonic(), _cpu_seconds())
        keeper.add(claim)
        outcome = Outcome("interrupted")
        self._in_job = True
        try:
            outcome = run_job(claim, self.queue.meta, self.artifacts, self.stations, self.log)
        except KeyboardInterrupt:  # Ctrl-C/SIGTERM, or the keeper's interrupt for a cancel
            pass
        finally:
            self._in_job = False
            interrupts.clear()
            cancelled = claim.job_id in keeper.cancelled
            beats = keeper.remove(claim)
        if cancelled or outcome.outcome == "interrupted" and self._cancel_asked(claim):
            outcome = Outcome("cancelled", stations=outcome.stations)
        cpu_s, run_s = self._usage(claim)
        self._started.pop(claim.job_id, None)
        state = record(self.queue, self.log, claim, outcome, cpu_s=cpu_s, run_s=run_s, executor=self.name,
                       beats=beats)
        return not (outcome.outcome == "interrupted" and state == QUEUED)  # stopped by a signal: leave

    def _cancel_asked(self, claim: Claim) -> bool:
        try:
            return self.queue.job(claim.job_id).cancel_requested
        except MofangError:
            return False

    def _usage(self, claim: Claim) -> tuple[float, float]:
        started, cpu0 = self._started.get(claim.job_id, (time.monotonic(), _cpu_seconds()))
        return max(0.0, _cpu_seconds() - cpu0), time.monotonic() - started

    def _lost(self, claim: Claim) -> None:
        if self.spec.exit_on_lost:
            os._exit(EXIT_LEASE_LOST)  # another worker owns the job now: stop writing at once, like a kill
        _interrupt_main()


def run_job(claim: Claim, meta: Any, artifacts: Any, stations: Sequence[Any] | None, log: JsonLog,
            display: Any = None) -> Outcome:
    """One attempt at a claimed job through the line runner (resuming at its first unfinished process);
    `display`: a Progress that shows it as well (the console of `mofang run`)."""
    # the line is imported when a job runs, not when a worker starts: it brings every unit (pandas, LightGBM, ONNX,
    # FastAPI ...), 3-6 s on two busy cores against 0.5 s, and a supervisor restarts killed workers at once
    from mofang.line import JobFailed, run

    progress = JsonProgress(log, claim.job_id, claim.tenant, claim.attempt, display=display)
    try:
        job = run(claim.job_id, meta=meta, artifacts=artifacts, progress=progress, stations=stations)
        return Outcome(job.status, stations=progress.stations)
    except KeyboardInterrupt:
        return Outcome("interrupted", stations=progress.stations)
    except JobFailed as exc:
        cause = exc.__cause__ or exc
        return Outcome("failed", classify(exc), type(cause).__name__, str(exc), stations=progress.stations)
    except Exception as exc:  # noqa: BLE001 - outside any process (unsealing, the database): classify it too
        return Outcome("failed", classify(exc), type(exc).__name__, f"{type(exc).__name__}: {exc}",
                       stations=progress.stations)


def record(queue: Queue, log: JsonLog, claim: Claim, outcome: Outcome, *, cpu_s: float, run_s: float,
           executor: str, beats: tuple[int, float] = (0, 0.0), requeue: bool = True) -> str | None:
    """Write an attempt's end to the queue, the metrics and the log; returns the entry's new state.
    `beats`: the attempt's heartbeats and the seconds they took (for the scheduler's overhead); `requeue`: see
    `Queue.finish`."""
    began = time.perf_counter()
    state = queue.finish(claim, outcome.outcome, cpu_s=cpu_s, run_s=run_s, error_kind=outcome.error_kind,
                         error=outcome.error, requeue=requeue)
    finish_s = time.perf_counter() - began
    metrics.ATTEMPT_SECONDS.labels(outcome.outcome, executor).observe(run_s)
    for station, status, seconds in outcome.stations:
        metrics.STATION_SECONDS.labels(station, status).observe(seconds)
    if state is None:
        log.event("lease.lost", job=claim.job_id, tenant=claim.tenant, attempt=claim.attempt)
        return None
    if state == QUEUED and outcome.outcome == "failed":
        metrics.RETRIES.labels(outcome.error_kind or "transient").inc()
    if state in TERMINAL:
        metrics.JOBS_FINISHED.labels(state).inc()
    log.event("job.finished", job=claim.job_id, tenant=claim.tenant, attempt=claim.attempt, status=outcome.outcome,
              state=state, error_kind=outcome.error_kind, error_type=outcome.error_type, seconds=round(run_s, 3),
              executor=executor, finish_s=round(finish_s, 5), beats=beats[0], heartbeat_s=round(beats[1], 5))
    return state


def housekeeping(queue: Queue, log: JsonLog) -> None:
    """Take up expired leases and sweep orphaned artifacts; a busy database only delays it."""

    try:
        with queue.serial() as s:
            queue.reap(s, queue.clock())
        for job, tenant, state in queue.take_reaped():  # and those the last claim did
            if state == QUEUED:
                metrics.RETRIES.labels("lost").inc()
            else:
                metrics.JOBS_FINISHED.labels(state).inc()
            log.event("lease.expired", job=job, tenant=tenant, state=state)
        for folder in sweep_due(queue, settings().home):  # .../tenants/<tenant>/artifacts/<kind>/<xx>/<digest>
            log.event("artifact.swept", tenant=folder.parents[3].name, result=folder.parents[1].name)
    except Exception as exc:  # noqa: BLE001
        log.event("housekeeping.failed", error_type=type(exc).__name__)


def _interrupt_main() -> None:
    """Ctrl-C for the main thread, where the job runs: a real SIGINT to that thread, so a blocking call
    (sleep, I/O) returns at once (`_thread.interrupt_main` only takes effect at the next bytecode)."""
    main = threading.main_thread().ident
    if main is not None:  # always set for a started thread; None only before start
        signal.pthread_kill(main, signal.SIGINT)


def _cpu_seconds() -> float:
    """CPU seconds of this process and its children (LightGBM threads count; subprocesses once reaped)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


# -- the supervisor --------------------------------------------------------------------------------------


def _child(spec: WorkerSpec) -> None:
    """A spawned worker process: SIGTERM stops it like Ctrl-C (the job is queued again, nothing lost)."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # until the worker installs its own
    try:
        serve(spec)
    except KeyboardInterrupt:
        pass


def supervise(spec: WorkerSpec, workers: int = 1, *, metrics_port: int | None = None,
              on_start: Callable[[list[int]], None] | None = None) -> int:
    """Run `workers` worker processes (spawned), restart any that die, serve metrics; returns an exit code.

    With `spec.once` it returns when every worker has drained the queue. Ctrl-C or SIGTERM stops the workers
    (each queues its running job again) and then returns. The Ray executor runs one driver in this process
    instead, with `workers × spec.slots` jobs in flight.
    """
    import multiprocessing as mp
    import tempfile

    from mofang.scheduling.ops_api import serve_ops

    if workers < 1:
        raise MofangError("workers must be at least 1")
    if spec.executor == "ray":  # one driver keeps all the leases; Ray runs the jobs (n × slots at once)
        meta = MetaStore(spec.db_url) if spec.db_url else MetaStore()
        if metrics_port is not None:
            serve_ops(metrics_port, meta)
        try:
            serve(replace(spec, slots=workers * spec.slots))
        except KeyboardInterrupt:
            return 130
        finally:
            meta.dispose()
        return 0
    home = Path(spec.home) if spec.home else settings().home
    if metrics_port is not None and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        (home / "run").mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics-", dir=home / "run")
    log = JsonLog(home, f"supervisor:{os.getpid()}")
    meta = MetaStore(spec.db_url) if spec.db_url else MetaStore()
    if metrics_port is not None:
        serve_ops(metrics_port, meta)
    context = mp.get_context("spawn")
    processes: dict[int, Any] = {}
    started: dict[int, float] = {}
    finished: set[int] = set()
    failures: dict[int, int] = {}
    restart_at: dict[int, float] = {}  # a worker that died young restarts after a backoff

    def start(index: int) -> None:
        process = context.Process(target=_child, args=(replace(spec, index=index),), name=f"mofang-worker-{index}")
        # a worker interrupted half-way through starting is still recorded, so the shutdown below stops it too
        # (blocking the signals instead would hand the blocked mask down to the worker, deaf to SIGTERM for good)
        try:
            process.start()
        finally:
            if process.pid is not None:
                processes[index], started[index] = process, time.monotonic()

    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    log.event("supervisor.started", workers=workers, executor=spec.executor)
    try:
        for index in range(workers):
            start(index)
        if on_start is not None:
            on_start([p.pid for p in processes.values()])
        while len(finished) < workers:
            time.sleep(0.2)
            for index, process in list(processes.items()):
                if index in finished or process.is_alive():
                    continue
                if index in restart_at:
                    if time.monotonic() >= restart_at[index]:
                        del restart_at[index]
                        start(index)
                    continue
                code = process.exitcode
                _mark_dead(process.pid)
                if spec.once and code == 0:
                    finished.add(index)
                    continue
                quick = time.monotonic() - started[index] < 5
                failures[index] = failures.get(index, 0) + 1 if quick else 0
                log.event("worker.restarted", worker_index=index, exit_code=code)
                if failures[index] > 2:  # dying at start again and again (a broken install): back off
                    restart_at[index] = time.monotonic() + min(30.0, 0.5 * 2 ** failures[index])
                else:
                    start(index)
        return 0
    except KeyboardInterrupt:
        children = {process.pid: process for process in [*processes.values(), *mp.active_children()]}
        for process in children.values():
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S  # one grace period for all workers, however many there are
        for process in children.values():
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        log.event("supervisor.stopped", workers=workers)
        meta.dispose()


def _mark_dead(pid: int | None) -> None:
    if pid is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
