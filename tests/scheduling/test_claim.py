"""Claims are atomic: two processes draining one queue never get the same job (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path
from typing import Any

import pytest

from mofang.scheduling.config import SchedulerConfig
from mofang.scheduling.queue import Queue
from mofang.store import MetaStore
from tests.conftest import postgres_url
from tests.scheduling.conftest import FAST, queued

JOBS = 40


def drain(url: str, worker: str, out: str, ready: Any) -> None:
    """A competing worker: claim and finish as fast as possible, writing each claimed job id. Both workers wait
    at `ready` first, so one that imported faster cannot drain the queue before the other starts."""
    meta = MetaStore(url)
    queue = Queue(meta, SchedulerConfig(**FAST))
    ready.wait(timeout=60)
    claimed = []
    while (claim := queue.claim(worker, node="n1")) is not None:
        claimed.append(claim.job_id)
        queue.finish(claim, "done", cpu_s=0.0, run_s=0.0)
        time.sleep(0.002)  # a real worker runs the job between claims: the other one gets the lock too
    Path(out).write_text("\n".join(map(str, claimed)))
    queue.close()
    meta.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, home: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{home / 'mofang.db'}"
    return postgres_url(fresh_schema=True)


def test_two_processes_never_claim_the_same_job(url: str, tmp_path: Path) -> None:
    meta = MetaStore(url)
    queue = Queue(meta, SchedulerConfig(**FAST))
    jobs = {queued(queue, ("acme", "bravo")[i % 2], f"o{i}") for i in range(JOBS)}
    context = mp.get_context("spawn")
    outs = [tmp_path / f"w{i}.txt" for i in range(2)]
    ready = context.Barrier(2)
    workers = [context.Process(target=drain, args=(url, f"w{i}", str(out), ready)) for i, out in enumerate(outs)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
        assert process.exitcode == 0
    claimed = [int(x) for out in outs for x in out.read_text().split()]
    assert sorted(claimed) == sorted(jobs)  # every job once, none twice
    assert all(out.read_text() for out in outs), "one worker got nothing: the race was not exercised"
    assert {v.state for v in queue.jobs()} == {"done"}
    queue.close()
    meta.dispose()
