"""The line runner: records, failures, Ctrl-C and a real kill, each resumed where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mofang.core.errors import MofangError
from mofang.line import JobFailed, run
from mofang.orders import Order
from mofang.station import Station
from mofang.store.models import ProcessRun

sys.path.insert(0, str(Path(__file__).parent))
from counting_stations import LINE  # noqa: E402

SPEC = {"id": "line-test", "tenant": "t1", "task": "tabular-regression", "target": "y",
        "data": [{"path": "/dev/null"}]}


def _job(meta) -> int:
    order = Order.model_validate(SPEC)
    return meta.register_job(order.tenant, order.id, order.task, order.model_dump(mode="json"), None)


def _count(artifacts, job_id: int, name: str) -> int:
    """How often a process ran; its counter file is job scratch, sealed when the job stops."""
    from mofang.security.vault import open_vault
    from mofang.store import MetaStore

    path = artifacts.job_dir("t1", job_id) / f"count-{name}"
    if not path.exists():
        return 0
    meta = MetaStore()
    try:
        return int(open_vault(meta, artifacts.home).read_any("t1", path, order="line-test"))
    finally:
        meta.dispose()


def _sum(artifacts, job_id: int) -> int:
    """The job's result, read through the vault: job artifacts are encrypted at rest."""
    from mofang.security.vault import open_vault
    from mofang.store import MetaStore

    meta = MetaStore()
    try:
        data = open_vault(meta, artifacts.home).read("t1", artifacts.job_dir("t1", job_id) / "sum.json",
                                                    order="line-test")
    finally:
        meta.dispose()
    return json.loads(data)["sum"]


def test_a_job_records_every_process(meta, artifacts) -> None:
    job_id = _job(meta)
    job = run(job_id, meta=meta, artifacts=artifacts, stations=LINE)
    assert job.status == "done" and _sum(artifacts, job_id) == 12
    with meta.session() as s:
        rows = {p.name: p for p in s.query(ProcessRun).all()}
    assert set(rows) == {"make", "double", "add"}
    assert rows["make"].reasons == ["made three numbers"]
    assert rows["double"].metrics == {"total": 12}
    assert rows["double"].inputs.keys() == {"raw_numbers"} and rows["double"].outputs.keys() == {"numbers"}
    with pytest.raises(MofangError, match="only queued, interrupted or failed"):
        run(job_id, meta=meta, artifacts=artifacts, stations=LINE)


@pytest.mark.parametrize("mode", ["interrupt", "fail"])
def test_resume_starts_at_the_first_unfinished_process(meta, artifacts, tmp_path, monkeypatch, mode) -> None:
    trap = tmp_path / "trap"
    trap.write_text(mode)
    monkeypatch.setenv("MOFANG_TEST_TRAP", str(trap))
    job_id = _job(meta)
    expected = KeyboardInterrupt if mode == "interrupt" else JobFailed
    with pytest.raises(expected) as info:
        run(job_id, meta=meta, artifacts=artifacts, stations=LINE)
    job = meta.job(job_id)
    assert job.status == ("interrupted" if mode == "interrupt" else "failed")
    if mode == "fail":
        assert "produce · double" in str(info.value) and "numbers.csv, row 2" in job.error
    finished = run(job_id, meta=meta, artifacts=artifacts, stations=LINE)
    assert finished.status == "done" and _sum(artifacts, job_id) == 12
    assert _count(artifacts, job_id, "make") == 1  # not redone
    assert _count(artifacts, job_id, "double") == 2  # the unfinished one, again
    assert _count(artifacts, job_id, "add") == 1


def test_resume_after_the_process_is_killed(meta, artifacts, home, tmp_path) -> None:
    job_id = _job(meta)
    trap = tmp_path / "trap"
    trap.write_text("hang")
    here = str(Path(__file__).parent)
    script = (
        f"import sys; sys.path.insert(0, {here!r})\n"
        "from counting_stations import LINE\n"
        "from mofang.line import run\nfrom mofang.store import MetaStore\n"
        f"run({job_id}, meta=MetaStore(), stations=LINE)\n"
    )
    env = {**os.environ, "MOFANG_HOME": str(home), "MOFANG_TEST_TRAP": str(trap)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    hanging = artifacts.job_dir("t1", job_id) / "hanging"
    deadline = time.monotonic() + 60
    while not hanging.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert hanging.exists(), "the child never reached the hanging process"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert meta.job(job_id).status == "running"  # killed: nobody could record anything
    finished = run(job_id, meta=meta, artifacts=artifacts, stations=LINE)
    assert finished.status == "done" and _sum(artifacts, job_id) == 12
    assert _count(artifacts, job_id, "make") == 1 and _count(artifacts, job_id, "double") == 2


def test_station_contract_is_checked_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="has no such method"):
        class Broken(Station):  # noqa: F841
            name = "broken"
            processes = ("missing",)
    with pytest.raises(TypeError, match="must set a `name`"):
        class Nameless(Station):  # noqa: F841
            processes = ("run",)

            def run(self, ctx): ...


def test_missing_inputs_are_reported(meta, artifacts) -> None:
    job_id = _job(meta)
    with pytest.raises(JobFailed, match="needs \\['numbers'\\]"):
        run(job_id, meta=meta, artifacts=artifacts, stations=[LINE[1]])


def test_objects_alive_before_a_job_are_left_out_of_collections_while_it_runs(meta, artifacts) -> None:
    import gc

    from mofang.station import Station, StationContext

    seen: list[int] = []

    class Watch(Station):
        name = "watch"
        processes = ("look",)

        def look(self, ctx: StationContext) -> str:
            seen.append(gc.get_freeze_count())
            return "looked"

    before = gc.get_freeze_count()
    job = run(_job(meta), meta=meta, artifacts=artifacts, stations=[Watch()])
    assert job.status == "done"
    assert seen[0] > 10_000  # the interpreter's and libraries' objects are frozen during the job
    assert gc.get_freeze_count() == before == 0  # and handed back to the collector afterwards
