"""`mofang run` through the queue: the job is queued with its declared needs, claimed by a worker in the
CLI's own process (that job only) and recorded done, so `mofang jobs list` shows it as it is. Ctrl-C holds it
for `mofang resume`, a cancel from `mofang jobs cancel` stops it, and an LLM order declares more than the
default needs."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from mofang.cli import app
from mofang.core.resources import Needs
from mofang.demo import write_demo
from mofang.models.station import ModelWorkshop
from mofang.orders import Order, load_order
from mofang.scheduling.config import SchedulerConfig
from mofang.scheduling.foreground import requeue, run_here
from mofang.scheduling.placement import order_needs
from mofang.scheduling.queue import Queue, QueueError
from mofang.store import MetaStore
from mofang.store.models import ProcessRun
from tests.line.counting_stations import LINE
from tests.scheduling.conftest import FAST, queued, register

ENV = {"COLUMNS": "200"}


def flat(output: str) -> str:
    """The output on one line, table borders removed."""
    return " ".join(re.sub(r"[│┃]", " ", output).split())


def log_events(home: Path) -> list[dict]:
    return [json.loads(line) for p in (home / "logs").glob("worker-*.jsonl") for line in p.read_text().splitlines()]


def test_mofang_run_shows_done_in_jobs_list_with_its_needs(home: Path, meta: MetaStore, tmp_path: Path) -> None:
    other = queued(Queue(meta), "acme", "someone-elses")  # another tenant's queued job: not this run's to take
    order_file = write_demo(tmp_path / "demo", rows=300, minutes=0.1)
    result = CliRunner().invoke(app, ["run", str(order_file)], env=ENV)
    assert result.exit_code == 0, result.output
    job = int(re.search(r"→ job (\d+)", result.output).group(1))
    assert f"job {job} done" in result.output

    needs = order_needs(load_order(order_file))
    assert needs.memory_gb > Needs().memory_gb  # the data and model stations declare more than the default
    listed = CliRunner().invoke(app, ["jobs", "list"], env=ENV)
    assert listed.exit_code == 0, listed.output
    assert re.search(r"job tenant order state job status prio attempts cpus mem GB gpu", flat(listed.output))
    assert re.search(rf"{job} demo-bank loan-default-demo done done 0 1/3 {needs.cpus:g} {needs.memory_gb:g} "
                     rf"{needs.gpu} ", flat(listed.output)), listed.output
    assert re.search(rf"{other} acme someone-elses queued queued", flat(listed.output))

    view = Queue(meta).job(job)
    assert view.lease_owner is None and view.cpu_s > 0 and view.run_s > 0  # a lease that was held, then ended
    events = [e for e in log_events(home) if e.get("job") == job]
    claimed = [e for e in events if e["event"] == "job.claimed"]
    assert len(claimed) == 1 and claimed[0]["pid"] == os.getpid()  # this process's worker claimed it
    assert [e["state"] for e in events if e["event"] == "job.finished"] == ["done"]
    assert {e["job"] for e in log_events(home) if e["event"] == "job.claimed"} == {job}


def test_ctrl_c_holds_the_job_and_resume_claims_it_again(home: Path, meta: MetaStore, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    trap = tmp_path / "trap"
    trap.write_text("interrupt")  # the `double` process is stopped as by Ctrl-C
    monkeypatch.setenv("MOFANG_TEST_TRAP", str(trap))
    queue = Queue(meta, SchedulerConfig(**FAST))
    job = queued(queue, "acme", "o1")
    config = SchedulerConfig(**FAST)
    assert run_here(job, meta, stations=LINE, config=config).outcome == "interrupted"
    assert queue.job(job).state == "held" and meta.job(job).status == "interrupted"  # not for the workers
    assert queue.claim("w1", node="n1") is None

    requeue(job, meta)
    assert queue.job(job).state == "queued"
    assert run_here(job, meta, stations=LINE, config=config).outcome == "done"
    view = queue.job(job)
    assert view.state == "done" and meta.job(job).status == "done" and view.attempts == 1


def test_a_ctrl_c_swallowed_inside_a_process_still_stops_the_job_before_the_next(
        home: Path, meta: MetaStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trap = tmp_path / "trap"
    trap.write_text("swallow")  # `double` gets a real SIGINT and swallows the KeyboardInterrupt, then finishes
    monkeypatch.setenv("MOFANG_TEST_TRAP", str(trap))
    queue = Queue(meta, SchedulerConfig(**FAST))
    job = queued(queue, "acme", "o1")
    config = SchedulerConfig(**FAST)
    assert run_here(job, meta, stations=LINE, config=config).outcome == "interrupted"
    workdir = home / "tenants" / "acme"
    assert list(workdir.rglob("swallowed")) and not list(workdir.rglob("count-add"))  # `add` never started
    assert meta.job(job).status == "interrupted" and queue.job(job).state == "held"

    double_done = _finished(meta, "double")
    assert double_done is not None  # the process itself ended well: its work is kept

    requeue(job, meta)  # the stop was acted on: the resumed job runs to its end
    assert run_here(job, meta, stations=LINE, config=config).outcome == "done"
    assert _finished(meta, "double") == double_done and _finished(meta, "add") is not None  # `double` not rerun


def _finished(meta: MetaStore, process: str) -> object:
    with meta.session() as s:
        return s.scalar(select(ProcessRun.finished_at).where(ProcessRun.name == process,
                                                             ProcessRun.status == "done"))


def test_a_failure_is_final_and_resumable(home: Path, meta: MetaStore, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    trap = tmp_path / "trap"
    trap.write_text("fail")
    monkeypatch.setenv("MOFANG_TEST_TRAP", str(trap))
    queue = Queue(meta, SchedulerConfig(**FAST))
    job = queued(queue, "acme", "o1")
    outcome = run_here(job, meta, stations=LINE, config=SchedulerConfig(**FAST))
    assert outcome.outcome == "failed" and "the numbers are bad" in outcome.error
    assert queue.job(job).state == "failed" and meta.job(job).status == "failed"
    requeue(job, meta)
    assert run_here(job, meta, stations=LINE, config=SchedulerConfig(**FAST)).outcome == "done"


def test_jobs_cancel_stops_a_foreground_run(home: Path, meta: MetaStore, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    trap = tmp_path / "trap"
    trap.write_text("hang")  # the `double` process sleeps for ten minutes
    monkeypatch.setenv("MOFANG_TEST_TRAP", str(trap))
    queue = Queue(meta, SchedulerConfig(**FAST))
    job = queued(queue, "acme", "o1")
    hanging = home / "tenants" / "acme" / "jobs" / str(job) / "hanging"
    answers: list[str] = []

    def cancel_when_hanging() -> None:
        deadline = time.monotonic() + 60
        while not hanging.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        answers.append(queue.cancel(job))

    helper = threading.Thread(target=cancel_when_hanging)
    helper.start()
    started = time.monotonic()
    outcome = run_here(job, meta, stations=LINE, config=SchedulerConfig(**FAST))
    helper.join()
    assert answers == ["cancelling"] and outcome.outcome == "cancelled"
    assert time.monotonic() - started < 30
    assert queue.job(job).state == "cancelled" and meta.job(job).status == "cancelled"


def test_a_held_job_is_not_run_and_a_leased_one_is_not_queued_again(home: Path, meta: MetaStore) -> None:
    queue = Queue(meta, SchedulerConfig(**FAST))
    held = register(meta, "acme", "held")
    assert queue.claim_job(held, "fg", node="n1") is None  # registered, not queued
    job = queued(queue, "acme", "o1")
    claim = queue.claim_job(job, "fg", node="n1")
    assert claim is not None and claim.job_id == job and queue.job(job).state == "leased"
    assert queue.claim_job(job, "other", node="n1") is None
    with pytest.raises(QueueError, match="already running on worker fg"):
        requeue(job, meta)


def test_an_llm_order_declares_more_than_the_default_needs(home: Path, meta: MetaStore) -> None:
    llm = Order.model_validate({"id": "law-assistant", "tenant": "demo-law", "task": "instruction-tuning",
                                "data": [{"path": "law.json"}], "base_model": "/models/tiny-qwen2",
                                "llm": {"system_prompt": "你是一名法律咨询助手。"}})
    tabular = Order.model_validate({"id": "o", "tenant": "t", "task": "tabular-regression", "target": "y",
                                    "data": [{"path": "/dev/null"}]})
    needs = order_needs(llm)
    assert needs.cpus > 1 and needs.memory_gb > 0.5 and needs == ModelWorkshop.needs_for(llm)
    assert needs.cpus >= 2 and needs.memory_gb >= 4
    assert order_needs(tabular).memory_gb < needs.memory_gb

    queue = Queue(meta)
    job = meta.register_job(llm.tenant, llm.id, llm.task, llm.model_dump(mode="json"), None)
    queue.enqueue(job, needs=needs)  # what `mofang run` and `mofang submit` record
    assert queue.job(job).needs == needs.to_dict()
    listed = CliRunner().invoke(app, ["jobs", "list"], env=ENV)
    assert re.search(rf"{job} demo-law law-assistant queued queued 0 0/3 {needs.cpus:g} {needs.memory_gb:g} 0 ",
                     flat(listed.output)), listed.output


def test_it_waits_for_its_tenants_quota_and_ctrl_c_holds_it(home: Path, meta: MetaStore) -> None:
    queue = Queue(meta, SchedulerConfig(**FAST))
    job = queued(queue, "acme", "o1")
    queue.set_quota("acme", max_running=0)  # no job of acme may start
    notes: list[str] = []

    def ctrl_c_once_waiting() -> None:
        deadline = time.monotonic() + 30
        while not notes and time.monotonic() < deadline:
            time.sleep(0.05)
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    helper = threading.Thread(target=ctrl_c_once_waiting)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        run_here(job, meta, stations=LINE, note=notes.append, config=SchedulerConfig(**FAST))
    helper.join()
    assert notes and "waiting for its tenant's quota" in notes[0]
    view = queue.job(job)
    assert view.state == "held" and view.attempts == 0  # taken back from the workers, never started
    assert queue.claim("w1", node="n1") is None
