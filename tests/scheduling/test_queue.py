"""The queue: priorities, fair share between tenants, quotas, cancel, retries with backoff."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from mofang.core.errors import DataError, OrderError
from mofang.core.resources import Needs
from mofang.line import JobFailed
from mofang.scheduling.queue import Queue, QueueError
from mofang.scheduling.retry import backoff_s, classify
from tests.scheduling.conftest import Clock, queued, register


def drain(queue: Queue, worker: str = "w1") -> list[int]:
    order = []
    while (claim := queue.claim(worker, node="n1")) is not None:
        order.append(claim.job_id)
        queue.finish(claim, "done", cpu_s=0.1, run_s=0.1)
    return order


def test_a_registered_job_is_held_until_queued(queue: Queue) -> None:
    job = register(queue.meta, "acme", "o1")  # what `mofang run` does: no worker may take it
    assert queue.job(job).state == "held" and queue.claim("w1", node="n1") is None
    queue.enqueue(job)
    assert queue.job(job).state == "queued"
    assert queue.claim("w1", node="n1").job_id == job


def test_higher_priority_runs_first_within_a_tenant(queue: Queue) -> None:
    low = queued(queue, "acme", "low", priority=0)
    high = queued(queue, "acme", "high", priority=5)
    mid = queued(queue, "acme", "mid", priority=1)
    assert drain(queue) == [high, mid, low]


def test_tenants_take_turns(queue: Queue) -> None:
    a = [queued(queue, "acme", f"a{i}") for i in range(4)]  # acme queues everything first
    b = [queued(queue, "bravo", f"b{i}") for i in range(4)]
    assert drain(queue) == [x for pair in zip(a, b, strict=True) for x in pair]


def test_least_running_tenant_goes_first(queue: Queue) -> None:
    a1, a2 = queued(queue, "acme", "a1"), queued(queue, "acme", "a2")
    first = queue.claim("w1", node="n1")
    assert first.job_id == a1
    b1 = queued(queue, "bravo", "b1")  # submitted after a2, but acme already runs a job
    assert queue.claim("w2", node="n1").job_id == b1
    assert queue.claim("w3", node="n1").job_id == a2


def test_concurrency_quota(queue: Queue) -> None:
    a1, a2 = queued(queue, "acme", "a1"), queued(queue, "acme", "a2")
    queue.set_quota("acme", max_running=1)
    b1 = queued(queue, "bravo", "b1")
    claims = [queue.claim(f"w{i}", node="n1") for i in range(3)]
    assert [c.job_id for c in claims[:2]] == [a1, b1] and claims[2] is None  # a2 waits for a1
    queue.finish(claims[0], "done", cpu_s=1, run_s=1)
    assert queue.claim("w4", node="n1").job_id == a2
    assert queue.quota("acme").max_running == 1 and queue.quota("bravo").max_running is None


def test_cpu_quota_per_day(queue: Queue, clock: Clock) -> None:
    a1, a2 = queued(queue, "acme", "a1"), queued(queue, "acme", "a2")
    queue.set_quota("acme", cpu_minutes_per_day=1.0)
    claim = queue.claim("w1", node="n1")
    assert claim.job_id == a1
    queue.heartbeat(claim, cpu_s=61.0, run_s=30.0)  # over a minute of CPU today
    queue.finish(claim, "done", cpu_s=61.0, run_s=30.0)
    assert queue.claim("w1", node="n1") is None
    b1 = queued(queue, "bravo", "b1")
    assert queue.claim("w1", node="n1").job_id == b1  # other tenants are not held back
    clock.advance(86_400)  # a new day
    assert queue.claim("w1", node="n1").job_id == a2


def test_a_job_goes_only_where_its_needs_fit(queue: Queue) -> None:
    big = queued(queue, "acme", "big", needs=Needs(cpus=8, memory_gb=1), priority=9)
    small = queued(queue, "acme", "small", needs=Needs(cpus=1, memory_gb=1))

    def fits(needs: Needs, reserved: list[Needs]) -> bool:
        return needs.cpus + sum(r.cpus for r in reserved) <= 2

    assert queue.claim("w1", node="n1", fits=fits).job_id == small  # the big one waits for a bigger node
    assert queue.claim("w2", node="n1", fits=fits) is None
    assert queue.claim("w3", node="n2", fits=lambda needs, reserved: True).job_id == big


def test_cancel_a_queued_job_and_a_running_one(queue: Queue) -> None:
    waiting, running = queued(queue, "acme", "o1"), queued(queue, "acme", "o2")
    claim = queue.claim("w1", node="n1")
    assert claim.job_id == waiting
    assert queue.cancel(running) == "cancelled"
    assert queue.meta.job(running).status == "cancelled" and queue.claim("w2", node="n1") is None
    assert queue.cancel(waiting) == "cancelling"
    assert queue.heartbeat(claim, cpu_s=0, run_s=1) == "cancel"
    assert queue.finish(claim, "interrupted", cpu_s=0, run_s=1) == "cancelled"  # interrupted for the cancel
    with pytest.raises(QueueError, match="already cancelled"):
        queue.cancel(waiting)
    queue.retry(running)
    assert queue.job(running).state == "queued" and queue.meta.job(running).status == "interrupted"


def test_a_foreground_job_is_not_cancelled_from_here(queue: Queue) -> None:
    job = register(queue.meta, "acme", "o1")
    queue.meta.set_job(job, status="running")
    with pytest.raises(QueueError, match="foreground"):
        queue.cancel(job)


@pytest.mark.parametrize("error, kind", [
    (DataError("bad value", source="a.csv", row=3), "permanent"),
    (OrderError("no target", field="target"), "permanent"),
    (ValueError("a bug"), "permanent"),
    (OSError("disk gone"), "transient"),
    (TimeoutError("slow share"), "transient"),
    (MemoryError(), "transient"),
    (OperationalError("UPDATE", {}, Exception("database is locked")), "transient"),
])
def test_failures_are_classified(error: Exception, kind: str) -> None:
    try:
        try:
            raise error
        except Exception as exc:
            raise JobFailed("job 1 failed at data · ingest") from exc
    except JobFailed as wrapped:
        assert classify(wrapped) == kind


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n, base_s=10, max_s=60) for n in range(5)] == [0, 10, 20, 40, 60]


def test_transient_failures_retry_with_backoff_until_attempts_run_out(queue: Queue, clock: Clock) -> None:
    job = queued(queue, "acme", "o1", max_attempts=3)
    delays = []
    for attempt in (1, 2):
        claim = queue.claim("w1", node="n1")
        assert claim.attempt == attempt
        assert queue.finish(claim, "failed", cpu_s=0, run_s=1, error_kind="transient", error="OSError") == "queued"
        delays.append(queue.job(job).not_before - clock.now)
        assert queue.claim("w1", node="n1") is None  # not before its backoff
        clock.advance(delays[-1])
    assert delays == pytest.approx([0.2, 0.4])
    claim = queue.claim("w1", node="n1")
    assert queue.finish(claim, "failed", cpu_s=0, run_s=1, error_kind="transient", error="OSError") == "failed"
    assert queue.job(job).attempts == 3


def test_permanent_failures_do_not_retry(queue: Queue) -> None:
    job = queued(queue, "acme", "o1")
    claim = queue.claim("w1", node="n1")
    assert queue.finish(claim, "failed", cpu_s=0, run_s=1, error_kind="permanent", error="DataError") == "failed"
    view = queue.job(job)
    assert view.attempts == 1 and view.error_kind == "permanent"
    queue.retry(job)  # a person fixed the cause
    assert queue.job(job).state == "queued" and queue.job(job).attempts == 0


def test_an_expired_lease_is_taken_up_by_another_worker(queue: Queue, clock: Clock) -> None:
    job = queued(queue, "acme", "o1")
    dead = queue.claim("w1", node="n1")
    clock.advance(queue.config.lease_s + 0.1)  # w1 stopped renewing
    assert queue.claim("w2", node="n1") is None  # re-queued with backoff first
    view = queue.job(job)
    assert view.state == "queued" and view.error_kind == "lost" and "w1" in view.last_error
    assert queue.meta.job(job).status == "interrupted"
    clock.advance(queue.config.backoff_s)
    taken = queue.claim("w2", node="n1")
    assert taken.job_id == job and taken.attempt == 2
    assert queue.heartbeat(dead, cpu_s=0, run_s=1) == "lost"  # the old worker may not touch it any more
    assert queue.finish(dead, "done", cpu_s=0, run_s=1) is None
    assert queue.finish(taken, "done", cpu_s=0, run_s=1) == "done"


def test_worker_shutdown_requeues_without_spending_an_attempt(queue: Queue) -> None:
    job = queued(queue, "acme", "o1")
    claim = queue.claim("w1", node="n1")
    assert queue.finish(claim, "interrupted", cpu_s=0, run_s=1) == "queued"
    assert queue.job(job).attempts == 0 and queue.claim("w2", node="n1").job_id == job


def test_a_queued_job_whose_order_was_destroyed_leaves_the_queue(queue: Queue) -> None:
    job = queued(queue, "acme", "o1")
    queue.meta.set_job(job, status="destroyed")
    assert queue.claim("w1", node="n1") is None
    view = queue.job(job)
    assert view.state == "cancelled" and view.last_error == "the job is destroyed" and queue.idle()
