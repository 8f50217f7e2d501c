"""Chaos: small demo orders on two worker processes, SIGKILLed again and again in every station and restarted by
their supervisor. In the end every job is done, rejected or cleanly failed, no product version is duplicated,
no artifact is orphaned, every job folder belongs to a job and is sealed."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from mofang.demo import write_demo
from mofang.orders import load_order
from mofang.scheduling.janitor import unreferenced
from mofang.scheduling.submit import submit
from mofang.scheduling.tables import QueueEntry
from mofang.security.scratch import plaintext_files
from mofang.store import MetaStore
from mofang.store.models import Job, Product, ProductVersion, StationRun

ROOT = Path(__file__).resolve().parents[2]
STATIONS = ["data", "model", "evaluation", "integration", "delivery"]
KILLS = 20
KILL_WINDOW_S = 130  # a demo job now also builds its edge bundle: ~10 s where it took ~7.5 s
CHAOS_ENV = {"MOFANG_SCHED_LEASE_S": "2", "MOFANG_SCHED_HEARTBEAT_S": "0.5", "MOFANG_SCHED_POLL_S": "0.2",
             "MOFANG_SCHED_BACKOFF_S": "0.2", "MOFANG_SCHED_BACKOFF_MAX_S": "1"}


def running_station(meta: MetaStore, job: int) -> str | None:
    with meta.session() as s:
        return s.scalar(select(StationRun.station).where(StationRun.job_id == job, StationRun.status == "running"))


def leases(meta: MetaStore) -> list[tuple[int, int]]:
    """(job, worker pid) of every live lease."""
    with meta.session() as s:
        rows = s.execute(select(QueueEntry.job_id, QueueEntry.lease_owner).where(QueueEntry.state == "leased")).all()
    return [(job, int(owner.split(":")[1])) for job, owner in rows if owner]


def busy_workers(meta: MetaStore, supervisor: int, killed: set[int]) -> list[tuple[int, int]]:
    """(pid, job) of the supervisor's live workers that hold a lease."""
    children = {p.pid for p in psutil.Process(supervisor).children()} - killed
    return [(pid, job) for job, pid in leases(meta) if pid in children]


def find_victim(meta: MetaStore, supervisor: int, killed: set[int], target: str,
                patience_s: float) -> tuple[int, int] | None:
    """A live worker (pid, job) whose job runs the target station; after `patience_s`, any station. Polled
    with one query every few milliseconds: integration and delivery last a tenth of a second."""
    waited = looked = time.monotonic()
    children = {p.pid for p in psutil.Process(supervisor).children()} - killed
    while time.monotonic() - waited < patience_s + 3:
        if time.monotonic() - looked > 0.5:  # restarted workers
            children, looked = {p.pid for p in psutil.Process(supervisor).children()} - killed, time.monotonic()
        with meta.session() as s:
            rows = s.execute(select(QueueEntry.lease_owner, QueueEntry.job_id, StationRun.station)
                             .join(StationRun, StationRun.job_id == QueueEntry.job_id)
                             .where(QueueEntry.state == "leased", StationRun.status == "running")).all()
        for owner, job, station in rows:
            pid = int(owner.split(":")[1])
            if pid in children and (station == target or time.monotonic() - waited > patience_s):
                return pid, job
        time.sleep(0.005)
    return None


def unfinished(meta: MetaStore) -> int:
    with meta.session() as s:
        return len(list(s.scalars(select(QueueEntry.job_id).where(QueueEntry.state.in_(("queued", "leased"))))))


def settled(meta: MetaStore) -> bool:
    with meta.session() as s:
        entries = list(s.scalars(select(QueueEntry)))
    return all(e.state in ("done", "rejected", "failed") for e in entries) and not any(e.sweep_due for e in entries)


@pytest.mark.slow
def test_workers_killed_in_every_station_lose_nothing(tmp_path: Path, home: Path, meta: MetaStore) -> None:
    rng = random.Random(7)
    templates = {}
    for tenant in ("demo-bank", "other-bank"):  # one loan book per tenant; each order gets its own file and id
        templates[tenant] = write_demo(tmp_path / tenant, rows=300, minutes=0.1)
    jobs: list[int] = []

    def order(tenant: str) -> None:
        number = len(jobs) + 1
        path = templates[tenant].with_name(f"order-{number}.yaml")
        text = templates[tenant].read_text(encoding="utf-8").replace("id: loan-default-demo", f"id: chaos-{number}")
        path.write_text(text.replace("tenant: demo-bank", f"tenant: {tenant}"), encoding="utf-8")
        jobs.append(submit(load_order(path), meta, max_attempts=40, source_file=path))
        orders[f"chaos-{number}"] = tenant

    orders: dict[str, str] = {}
    for tenant in ("demo-bank", "other-bank", "demo-bank", "other-bank"):
        order(tenant)
    env = {**os.environ, **CHAOS_ENV, "MOFANG_HOME": str(home)}
    # a restarted worker reads compiled modules as a deployed one does (recompiling every module on each of
    # forty restarts left the jobs too little time between kills to reach the later stations)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # its output goes to a file: a pipe nobody reads until the end fills up (64 KB of forty restarts' warnings),
    # and a worker or the supervisor writing to it then blocks — the shutdown below waited on that
    errors = tmp_path / "supervisor.err"
    supervisor = subprocess.Popen([sys.executable, "-m", "mofang.cli.scheduling", "worker", "-n", "2"], cwd=ROOT,
                                  env=env, stdout=subprocess.DEVNULL, stderr=errors.open("wb"))
    started = time.monotonic()
    hits: collections.Counter[str] = collections.Counter()
    killed: set[int] = set()  # a killed worker's lease stays until it expires: do not aim at it again
    try:
        while sum(hits.values()) < KILLS and time.monotonic() - started < KILL_WINDOW_S:
            assert supervisor.poll() is None, errors.read_text(errors="replace")[-4000:]
            if unfinished(meta) < 3:  # keep both workers busy until the kills are done
                order(("demo-bank", "other-bank")[len(jobs) % 2])
            target = min(STATIONS, key=lambda st: (hits[st], STATIONS.index(st)))  # the least hit so far
            victim = find_victim(meta, supervisor.pid, killed, target,
                                 patience_s=5.0 if target in ("data", "model") else 10.0)
            if victim is None:
                continue
            victims = [victim]
            if rng.random() < 0.5:  # now and then the whole machine goes: every worker at once
                victims += [v for v in busy_workers(meta, supervisor.pid, killed) if v != victim]
            if target in ("data", "model"):  # long stations: a random moment inside
                time.sleep(rng.uniform(0, 0.3))
            for pid, job in victims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
                killed.add(pid)
                time.sleep(0.05)
                hits[running_station(meta, job) or "between stations"] += 1  # where it really died
        kills = sum(hits.values())
        while not settled(meta) and time.monotonic() - started < KILL_WINDOW_S + 95:
            assert supervisor.poll() is None, errors.read_text(errors="replace")[-4000:]
            time.sleep(0.5)
    finally:
        supervisor.send_signal(signal.SIGINT)
        try:
            supervisor.wait(timeout=60)
        except subprocess.TimeoutExpired:
            left = [p.cmdline() for p in psutil.Process(supervisor.pid).children(recursive=True)]
            supervisor.kill()
            pytest.fail(f"the supervisor did not stop within 60 s of Ctrl-C; its processes: {left}; "
                        f"its output: {errors.read_text(errors='replace')[-4000:]}")
    print(f"\nsurvived {kills} kills (by station: {dict(hits)}) in {time.monotonic() - started:.0f}s")
    assert kills >= KILLS, f"only {kills} kills before the orders finished"
    # every station is aimed at, the least hit first; on two busy cores restarted workers leave the jobs few
    # seconds between kills, so a kill inside the short later stations (2-3 s, delivery ~0.1 s) is tried, not owed
    assert {"data", "model"} <= set(hits), hits
    assert settled(meta), [(v.job_id, v.state) for v in _entries(meta)]

    with meta.session() as s:
        entries = {e.job_id: e for e in s.scalars(select(QueueEntry))}
        statuses = dict(s.execute(select(Job.id, Job.status)).all())
        versions = s.execute(select(Product.tenant_id, Product.name, ProductVersion.job_id)
                             .join(ProductVersion, ProductVersion.product_id == Product.id)).all()
        for tenant in set(orders.values()):
            assert unreferenced(s, home, tenant) == [], f"orphaned artifacts of {tenant}"
    for job in jobs:
        assert statuses[job] == entries[job].state, (job, statuses[job], entries[job].state)
        if entries[job].state == "failed":
            assert entries[job].last_error, f"job {job} failed without a reason"
    delivered = [job for _, _, job in versions]
    assert len(delivered) == len(set(delivered)), "a job delivered two product versions"
    assert set(delivered) == {j for j in jobs if statuses[j] == "done"}
    assert not list(home.glob("tenants/*/artifacts/**/.staging-*"))  # in the orders' folders and tenant-wide
    for folder in home.glob("tenants/*/jobs/*"):
        job = int(folder.name)
        assert job in statuses and folder.parent.parent.name == orders[_order_of(meta, job)]
        assert plaintext_files(folder) == [], f"job folder {job} holds plaintext after the job stopped"


def _entries(meta: MetaStore) -> list[QueueEntry]:
    with meta.session() as s:
        return list(s.scalars(select(QueueEntry)))


def _order_of(meta: MetaStore, job: int) -> str:
    return meta.job(job).order.order_id
