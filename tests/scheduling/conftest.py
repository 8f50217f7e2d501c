"""Fixtures of the scheduling tests: a queue with short leases, tiny jobs on the counting stations, one Ray."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mofang.orders import Order
from mofang.scheduling.config import SchedulerConfig
from mofang.scheduling.queue import Queue
from mofang.store import MetaStore

LINE = "tests.line.counting_stations:LINE"  # two tiny stations, three processes
FAST = {"lease_s": 3.0, "heartbeat_s": 0.5, "poll_s": 0.1, "backoff_s": 0.2, "backoff_max_s": 2.0}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ray: starts a local Ray (one per test session)")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def register(meta: MetaStore, tenant: str, order_id: str) -> int:
    """A held job of a counting-stations order (no intake: its source is not read)."""
    order = Order.model_validate({"id": order_id, "tenant": tenant, "task": "tabular-regression", "target": "y",
                                  "data": [{"path": "/dev/null"}]})
    return meta.register_job(tenant, order.id, order.task, order.model_dump(mode="json"), None)


def queued(queue: Queue, tenant: str, order_id: str, **options: object) -> int:
    job = register(queue.meta, tenant, order_id)
    queue.enqueue(job, **options)
    return job


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def queue(meta: MetaStore, clock: Clock) -> Iterator[Queue]:
    q = Queue(meta, SchedulerConfig(**FAST), clock=clock)
    yield q
    q.close()


@pytest.fixture()
def fast_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Short leases and backoff for worker processes (through MOFANG_SCHED_*)."""
    for key, value in FAST.items():
        monkeypatch.setenv(f"MOFANG_SCHED_{key.upper()}", str(value))
    return {f"MOFANG_SCHED_{k.upper()}": str(v) for k, v in FAST.items()}


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One local Ray for the whole test session (2 CPUs, a small object store, no dashboard); yields the trap
    file its workers' counting stations watch (Ray workers keep the environment Ray started with)."""
    ray = pytest.importorskip("ray")
    trap = tmp_path_factory.mktemp("ray") / "trap"
    if not ray.is_initialized():
        os.environ["MOFANG_TEST_TRAP"] = str(trap)
        ray.init(num_cpus=2, object_store_memory=200 * 2**20, include_dashboard=False, log_to_driver=False)
    yield trap
    ray.shutdown()
