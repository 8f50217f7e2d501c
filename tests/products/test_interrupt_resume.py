"""Ctrl-C in the middle of model training, then `mofang resume`: the real line picks up where it stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from mofang.demo import write_demo
from mofang.store.models import ProcessRun, StationRun


def _status(meta, station: str, process: str) -> str | None:
    with meta.session() as s:
        row = s.scalar(select(ProcessRun).join(StationRun).where(
            StationRun.station == station, ProcessRun.name == process))
        return row.status if row else None


@pytest.mark.slow
def test_ctrl_c_during_training_then_resume(tmp_path, home, meta) -> None:
    order = write_demo(tmp_path, rows=1500, minutes=0.5)
    env = {**os.environ, "MOFANG_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "mofang.cli", "run", str(order)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while _status(meta, "model", "train") != "running" and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.2)
    time.sleep(1.0)  # well inside the search
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, output
    assert "mofang resume 1" in output
    job = meta.job(1)
    assert job.status == "interrupted" and _status(meta, "data", "publish") == "done"
    with meta.session() as s:
        finished_before = {p.name: p.finished_at for p in s.scalars(select(ProcessRun)) if p.status == "done"}

    resumed = subprocess.run([sys.executable, "-m", "mofang.cli", "resume", "1"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert meta.job(1).status == "done"
    assert "done in an earlier run" in resumed.stderr
    with meta.session() as s:
        after = {p.name: p.finished_at for p in s.scalars(select(ProcessRun))}
    for name, finished in finished_before.items():  # nothing finished before was run again
        assert after[name] == finished, name
    assert meta.product_version("loan-default-demo").version == 1
