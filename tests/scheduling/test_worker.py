"""A worker in this process on the counting stations: fair turns between tenants, cancelling a running job,
logs without data, metrics."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from mofang.scheduling import metrics
from mofang.scheduling.queue import Queue
from mofang.scheduling.worker import WorkerSpec, serve
from mofang.store.models import Job
from tests.scheduling.conftest import FAST, LINE, queued


def spec(**changes: object) -> WorkerSpec:
    return WorkerSpec(once=True, line=LINE, exit_on_lost=False, config=dict(FAST), **changes)


def test_one_worker_serves_two_tenants_in_turns(queue: Queue, home: Path) -> None:
    for tenant in ("acme", "bravo"):  # acme's ten orders are all queued before bravo's
        for i in range(10):
            queued(queue, tenant, f"{tenant}-{i}")
    assert serve(spec()) == 20
    with queue.meta.session() as s:
        ran = [tenant for tenant, _ in s.execute(select(Job.tenant_id, Job.started_at).order_by(Job.started_at))]
    assert ran == ["acme", "bravo"] * 10  # neither waits for all of the other's
    assert {v.state for v in queue.jobs()} == {"done"}
    log = [json.loads(line) for p in (home / "logs").glob("worker-*.jsonl") for line in p.read_text().splitlines()]
    events = {e["event"] for e in log}
    assert {"job.claimed", "station.finished", "process.finished", "job.finished"} <= events
    allowed = {"ts", "pid", "worker", "event", "job", "tenant", "order", "station", "process", "status", "seconds",
               "attempt", "state", "executor", "node", "worker_index", "slots", "error_kind", "error_type", "claim_s",
               "finish_s", "heartbeat_s", "beats"}
    assert all(set(e) <= allowed for e in log), "a log line carries a field outside the allow-list"


def test_cancel_stops_a_running_job(queue: Queue, home: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    trap = tmp_path / "trap"
    trap.write_text("hang")  # the `double` process sleeps for ten minutes
    monkeypatch.setenv("MOFANG_TEST_TRAP", str(trap))
    job = queued(queue, "acme", "o1")
    hanging = home / "tenants" / "acme" / "jobs" / str(job) / "hanging"
    outcome: dict[str, str] = {}

    def cancel_when_hanging() -> None:
        deadline = time.monotonic() + 60
        while not hanging.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        outcome["cancel"] = queue.cancel(job)

    helper = threading.Thread(target=cancel_when_hanging)
    helper.start()
    started = time.monotonic()
    serve(spec())  # in the main thread: the lease keeper interrupts it
    helper.join()
    assert outcome["cancel"] == "cancelling" and time.monotonic() - started < 30
    view = queue.job(job)
    assert view.state == "cancelled" and queue.meta.job(job).status == "cancelled"
    queue.retry(job)  # and it can be taken up again: it resumes at `double`
    serve(spec())
    assert queue.job(job).state == "done"


def test_metrics_show_queue_depth_and_attempts(queue: Queue) -> None:
    queued(queue, "acme", "o1")
    serve(spec())
    queued(queue, "bravo", "o2")
    page, content_type = metrics.render(queue.meta)
    text = page.decode()
    assert content_type.startswith("text/plain")
    assert 'mofang_queue_jobs{state="done",tenant="acme"} 1.0' in text
    assert 'mofang_queue_jobs{state="queued",tenant="bravo"} 1.0' in text
    assert 'mofang_job_attempt_seconds_count{executor="local",outcome="done"}' in text
    assert 'mofang_station_seconds_bucket{le="0.5",station="produce",status="done"}' in text
