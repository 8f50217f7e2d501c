"""`mofang run` and `mofang resume` through the queue: the job is queued with its needs, then a worker in this
process claims that job, and no other, and runs it on the path of `mofang worker` (claim, lease keeper, the
line runner, the outcome recorded in the queue), showing the console's progress besides the JSON log. So the
queue shows every job as it is: queued, leased by this process, then done, rejected or failed.

It waits only for the factory's own work: its tenant's quotas and the jobs other workers run on this machine.
With nothing else placed here it starts even when the machine is smaller than the job's declared needs (and
says so): the person asked for it to run here. Stopped by Ctrl-C, the job is held for `mofang resume`, not
queued again for the workers; a failure is not retried (`mofang resume` goes on after the fix). When another
worker took the job first, this process follows it to its end.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from mofang.core import interrupts
from mofang.core.config import settings
from mofang.core.resources import Needs
from mofang.devices.inventory import local_node
from mofang.orders import Order
from mofang.scheduling.config import SchedulerConfig
from mofang.scheduling.log import JsonLog
from mofang.scheduling.placement import local_capacity, needs_from, order_needs
from mofang.scheduling.queue import Claim, JobView, Queue
from mofang.scheduling.tables import CANCELLED, DONE, FAILED, LEASED, QUEUED, REJECTED
from mofang.scheduling.worker import LeaseKeeper, Outcome, _cpu_seconds, _interrupt_main, record, run_job, worker_id
from mofang.store import ArtifactStore

if TYPE_CHECKING:
    from mofang.store import MetaStore

Note = Callable[[str], None]


def requeue(job_id: int, meta: MetaStore) -> None:
    """Queue an interrupted or failed job again for `run_here`, with its needs as its line declares them now."""

    needs = order_needs(Order.model_validate(meta.job(job_id).spec))
    queue = Queue(meta)
    try:
        queue.enqueue(job_id, needs=needs, resume=True)
    finally:
        queue.close()


def run_here(job_id: int, meta: MetaStore, *, progress: Any = None, note: Note | None = None,
             stations: Sequence[Any] | None = None, config: SchedulerConfig | None = None) -> Outcome:
    """Claim the queued job `job_id` in this process, run it to its end and return how it ended. Raises
    KeyboardInterrupt when Ctrl-C stops it while it waits (the job is then held)."""
    return ForegroundWorker(meta, progress=progress, note=note, stations=stations, config=config).run(job_id)


class ForegroundWorker:
    """A worker for one job, in the foreground: the local executor's claim, lease and record, with progress."""

    name = "local"

    def __init__(self, meta: MetaStore, *, progress: Any = None, note: Note | None = None,
                 stations: Sequence[Any] | None = None, config: SchedulerConfig | None = None) -> None:

        home = settings().home
        self.meta, self.progress, self.note, self.stations = meta, progress, note or (lambda _text: None), stations
        self.queue = Queue(meta, config or SchedulerConfig.from_env())
        self.artifacts, self.me, self.node = ArtifactStore(home), worker_id(), local_node().name
        self.log = JsonLog(home, self.me)
        self._started = (time.monotonic(), _cpu_seconds())
        self._in_job = False  # the line runner has the job now
        self._keeper_signal = False  # the keeper interrupted the main thread (a cancel, a lost lease)
        self._lost = False

    def run(self, job_id: int) -> Outcome:
        keeper = LeaseKeeper(self.queue, self.log, self._usage, on_cancel=self._interrupt, on_lost=self._on_lost)
        keeper.start()
        previous = self._install_handler()
        try:
            while True:
                claim = self._wait_for(job_id)
                if claim is None:
                    return self._ended_elsewhere(job_id)
                outcome, state = self._attempt(claim, keeper)
                if state is not None:
                    return _settled(outcome, state)
                self.note(f"job {job_id}: this process lost its lease (it stalled past "
                          f"{self.queue.config.lease_s:g}s); claiming the job again")
        finally:
            keeper.stop()
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            self.queue.close()

    # -- claiming ----------------------------------------------------------------------------------------
    def _wait_for(self, job_id: int) -> Claim | None:
        """The claim once the job may run here; None when it ended (or was held) without this process."""
        said = ""
        try:
            while True:
                claim = self.queue.claim_job(job_id, self.me, node=self.node, fits=self._fits, executor=self.name)
                if claim is not None:
                    return claim
                view = self.queue.job(job_id)
                if view.state not in (QUEUED, LEASED):
                    return None
                why = _waiting(view, self.node)
                if why != said:
                    self.note(why)
                    said = why
                time.sleep(self.queue.config.poll_s)
        except KeyboardInterrupt:
            self.queue.hold(job_id)  # not for the workers: its owner stopped it
            raise

    def _fits(self, needs: Needs, reserved: list[Needs]) -> bool:
        """Room beside the jobs placed on this machine; with none, the job runs whatever the machine's size."""
        capacity = local_capacity(reserved).nodes[0]
        if capacity.holds(needs):
            return True
        if reserved:
            return False
        self.note(f"the job declares {needs}; this machine has {capacity.cpus:g} CPUs and "
                  f"{capacity.memory_gb:.1f} GB free: running it here anyway")
        return True

    # -- running -----------------------------------------------------------------------------------------
    def _attempt(self, claim: Claim, keeper: LeaseKeeper) -> tuple[Outcome, str | None]:
        """Run the claimed job and record how it ended; the queue entry's new state (None: the lease was lost)."""
        self.log.event("job.claimed", job=claim.job_id, tenant=claim.tenant, order=claim.order_id,
                       attempt=claim.attempt, executor=self.name, node=self.node)
        self._started, self._lost = (time.monotonic(), _cpu_seconds()), False
        keeper.add(claim)
        outcome = Outcome("interrupted")
        self._in_job = True
        try:
            outcome = run_job(claim, self.meta, self.artifacts, self.stations, self.log, display=self.progress)
        except KeyboardInterrupt:  # Ctrl-C, or the keeper's interrupt, just outside the line runner
            pass
        finally:
            self._in_job = False
            interrupts.clear()
            if claim.job_id in keeper.cancelled:
                outcome = Outcome(CANCELLED, stations=outcome.stations)
            beats = keeper.remove(claim)
        cpu_s, run_s = self._usage(claim)
        state = record(self.queue, self.log, claim, outcome, cpu_s=cpu_s, run_s=run_s, executor=self.name,
                       beats=beats, requeue=False)
        return outcome, state

    def _ended_elsewhere(self, job_id: int) -> Outcome:
        job = self.meta.job(job_id)
        if job.status in (DONE, REJECTED, FAILED, CANCELLED):
            return Outcome(job.status, error=job.error)
        return Outcome("interrupted")

    def _usage(self, _claim: Claim) -> tuple[float, float]:
        started, cpu0 = self._started
        return max(0.0, _cpu_seconds() - cpu0), time.monotonic() - started

    # -- signals -----------------------------------------------------------------------------------------
    def _interrupt(self, _claim: Claim) -> None:
        self._keeper_signal = True
        _interrupt_main()

    def _on_lost(self, claim: Claim) -> None:
        self._lost = True
        self._interrupt(claim)

    def _install_handler(self) -> Any:
        """Ctrl-C stops the job (or the wait for it); a keeper's interrupt that lands after its job ended is
        dropped, so a job that has just finished is never reported interrupted."""

        def handle(_signum: int, _frame: Any) -> None:
            from_keeper, self._keeper_signal = self._keeper_signal, False
            if self._in_job or not from_keeper:
                if self._in_job:
                    interrupts.request()  # kept if the KeyboardInterrupt is swallowed on its way up
                raise KeyboardInterrupt

        if threading.current_thread() is not threading.main_thread():
            return None  # signals reach the main thread only
        return signal.signal(signal.SIGINT, handle)


def _settled(outcome: Outcome, state: str) -> Outcome:
    """The attempt's outcome as the queue settled it (a job that reached its end, a cancel acted on)."""
    if state in (DONE, REJECTED, CANCELLED) and outcome.outcome != state:
        return replace(outcome, outcome=state)
    return outcome


def _waiting(view: JobView, node: str) -> str:
    if view.state == LEASED:
        return f"job {view.job_id} runs on worker {view.lease_owner}; following it to its end"
    needs = needs_from(view.needs, where=f"job {view.job_id}")
    return (f"job {view.job_id} is queued: waiting for its tenant's quota, or for {needs} free on {node} beside "
            "the jobs running there")


__all__ = ["ForegroundWorker", "requeue", "run_here"]
