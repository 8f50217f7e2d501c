"""The portal's embedded workers: `mofang portal --workers N` runs the scheduling supervisor beside the API."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from typing import Any

from mofang.scheduling.worker import WorkerSpec, supervise


def _run(spec: WorkerSpec, workers: int) -> None:
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # like Ctrl-C: running jobs are queued again
    try:
        supervise(spec, workers)
    except KeyboardInterrupt:
        pass


class EmbeddedWorkers:
    """N local workers (the same `supervise` as `mofang worker -n N`) in a child process of the portal."""

    def __init__(self, workers: int, *, home: str | None = None, db_url: str | None = None) -> None:
        self.workers = workers
        self.spec = WorkerSpec(home=home, db_url=db_url, executor="local")
        self.process: Any = None

    def start(self) -> None:
        if self.workers < 1:
            return
        self.process = mp.get_context("spawn").Process(target=_run, args=(self.spec, self.workers),
                                                       name="mofang-portal-workers")
        self.process.start()

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the workers (each queues its running job again, to resume later)."""
        if self.process is None or not self.process.is_alive():
            return
        os.kill(self.process.pid, signal.SIGTERM)
        self.process.join(timeout=timeout_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5)
