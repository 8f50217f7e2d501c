"""A worker killed with SIGKILL mid-job: its lease expires and another worker resumes the job where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mofang.scheduling.queue import Queue
from mofang.scheduling.worker import WorkerSpec, serve
from mofang.security.vault import open_vault
from tests.scheduling.conftest import FAST, LINE, queued

ROOT = Path(__file__).resolve().parents[2]
WORKER = f"from mofang.scheduling.worker import WorkerSpec, serve; serve(WorkerSpec(once=True, line={LINE!r}))"


def count(queue: Queue, home: Path, job: int, process: str) -> int:
    path = home / "tenants" / "acme" / "jobs" / str(job) / f"count-{process}"
    return int(open_vault(queue.meta, home).read_any("acme", path, order="o1")) if path.exists() else 0


def test_a_killed_workers_job_is_resumed_by_another(queue: Queue, home: Path, tmp_path: Path,
                                                    fast_env: dict[str, str]) -> None:
    trap = tmp_path / "trap"
    trap.write_text("hang")
    job = queued(queue, "acme", "o1")
    env = {**os.environ, **fast_env, "MOFANG_HOME": str(home), "MOFANG_TEST_TRAP": str(trap)}
    first = subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env)
    hanging = home / "tenants" / "acme" / "jobs" / str(job) / "hanging"
    deadline = time.monotonic() + 60
    while not hanging.exists():
        assert first.poll() is None and time.monotonic() < deadline, "the first worker never reached `double`"
        time.sleep(0.05)
    assert queue.job(job).state == "leased"
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)

    started = time.monotonic()
    queue.clock = time.time  # the real clock from here on
    assert serve(WorkerSpec(once=True, line=LINE, exit_on_lost=False, config=dict(FAST))) == 1
    assert time.monotonic() - started >= FAST["lease_s"] - 1.0  # it waited for the lease to expire
    view = queue.job(job)
    assert view.state == "done" and view.attempts == 2 and queue.meta.job(job).status == "done"
    assert count(queue, home, job, "make") == 1  # done before the kill: not run again
    assert count(queue, home, job, "double") == 2 and count(queue, home, job, "add") == 1
    events = [json.loads(line)["event"] for p in (home / "logs").glob("*.jsonl") for line in p.read_text().splitlines()]
    assert "lease.expired" in events


def test_bad_input_fails_at_once(queue: Queue, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trap = tmp_path / "trap"
    trap.write_text("fail")  # `double` raises DataError: permanent, no retry
    monkeypatch.setenv("MOFANG_TEST_TRAP", str(trap))
    job = queued(queue, "acme", "o1")
    queue.clock = time.time
    serve(WorkerSpec(once=True, line=LINE, exit_on_lost=False, config=dict(FAST)))
    view = queue.job(job)
    assert (view.state, view.attempts, view.error_kind) == ("failed", 1, "permanent")
    assert "the numbers are bad" in view.last_error


def test_stopping_the_workers_hands_the_job_back(queue: Queue, home: Path, tmp_path: Path,
                                                 fast_env: dict[str, str]) -> None:
    trap = tmp_path / "trap"
    trap.write_text("hang")
    job = queued(queue, "acme", "o1")
    env = {**os.environ, **fast_env, "MOFANG_HOME": str(home), "MOFANG_TEST_TRAP": str(trap)}
    supervisor = subprocess.Popen([sys.executable, "-m", "mofang.cli.scheduling", "worker", "--line", LINE],
                                  cwd=ROOT, env=env, stderr=subprocess.PIPE)
    hanging = home / "tenants" / "acme" / "jobs" / str(job) / "hanging"
    deadline = time.monotonic() + 60
    while not hanging.exists():
        assert supervisor.poll() is None and time.monotonic() < deadline, supervisor.stderr.read().decode()
        time.sleep(0.05)
    supervisor.send_signal(signal.SIGTERM)  # as a service manager stops it
    assert supervisor.wait(timeout=30) == 130
    view = queue.job(job)
    assert (view.state, view.attempts) == ("queued", 0) and queue.meta.job(job).status == "interrupted"
    queue.clock = time.time
    serve(WorkerSpec(once=True, line=LINE, exit_on_lost=False, config=dict(FAST)))
    assert queue.job(job).state == "done" and count(queue, home, job, "make") == 1
