"""A sample of the corpus through the real entry points as subprocesses — `mofang data inspect FILE` and
`mofang run ORDER` — checking the exit code, that no traceback is printed and that the error names the file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.hardening.corpus import ANY, OK, ORDER, TIMEOUT_S, Case, cases

EXIT_OK, EXIT_ERROR = 0, 2  # mofang.cli.common.fail: a refused input exits 2 with "error: <file>...: <what>"
INSPECTED = ("huge-6mb-single-line-csv", "junk-png-named-csv", "zip-bomb-xlsx-sheet", "truncated-csv-50pct",
             "headers-duplicate-after-strip",
             "docs-member-name-markup")
RUN = ("order-wrong-type-id-number", "admit-6mb-single-line")  # a handful: each start of the CLI costs seconds
BY_NAME = {case.name: case for case in cases()}


def _mofang() -> list[str]:
    script = Path(sys.executable).with_name("mofang")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mofang.cli"]


def _run(case: Case, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MOFANG_HOME": str(tmp_path / "home"), **case.env}
    env.pop("MOFANG_DB_URL", None)
    return subprocess.run([*_mofang(), *args], capture_output=True, text=True, timeout=TIMEOUT_S, env=env,
                          cwd=tmp_path)


def _check(case: Case, result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    if case.expect == OK:
        assert result.returncode == EXIT_OK, output[-3000:]
        return
    assert result.returncode in ((EXIT_OK, EXIT_ERROR) if case.expect == ANY else (EXIT_ERROR,)), output[-3000:]
    if result.returncode == EXIT_ERROR:
        error = result.stderr
        assert error.startswith("error: "), error
        assert any(name in error for name in (case.filename, *case.extra)), error
        assert case.expect == ANY or re.search(case.expect, error, re.S), error


@pytest.mark.slow
@pytest.mark.parametrize("name", INSPECTED)
def test_data_inspect(name: str, tmp_path: Path) -> None:
    case = BY_NAME[name]
    path = case.write(tmp_path)
    _check(case, _run(case, tmp_path, "data", "inspect", str(path)))


@pytest.mark.slow
@pytest.mark.parametrize("name", RUN)
def test_mofang_run(name: str, tmp_path: Path) -> None:
    case = BY_NAME[name]
    assert case.reader != ORDER or case.expect not in (OK, ANY)  # a run that would train is not sampled here
    path = case.write(tmp_path)
    _check(case, _run(case, tmp_path, "run", str(path)))
