"""Run one corpus case through the real readers in this process, under a deadline: the outcome, never a crash."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mofang.core.errors import DataError, OrderError
from tests.hardening.corpus import ADMIT, ORDER, SOURCE, STRICT, Case


class CaseTimeout(BaseException):  # noqa: N818 - a BaseException, so no reader's `except Exception` can hide it
    """The case ran past its deadline (a hang)."""


@dataclass
class Outcome:
    """What reading a case gave: an error message (None when it read), the rows read and the seconds taken."""

    error: str | None
    rows: int | None
    seconds: float
    source: str | None = None  # the file the error names (DataError.source / OrderError.file)
    warnings: tuple[str, ...] = ()  # what the read flagged (a cut row dropped...)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise CaseTimeout in this (the main) thread once `seconds` have passed."""
    def expire(_signum: int, _frame: object) -> None:
        raise CaseTimeout(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_case(case: Case, folder: Path) -> Outcome:
    """Write the case into `folder` and read it with its reader; only DataError/OrderError count as refusals."""
    path = case.write(folder)
    started = time.monotonic()
    with environment(case.env), deadline(case.timeout):
        try:
            rows, warnings = _read(case, path)
        except DataError as exc:
            return Outcome(str(exc), None, time.monotonic() - started, exc.source)
        except OrderError as exc:
            return Outcome(str(exc), None, time.monotonic() - started, getattr(exc, "file", None) or str(path))
    return Outcome(None, rows, time.monotonic() - started, warnings=warnings)


def _read(case: Case, path: Path) -> tuple[int, tuple[str, ...]]:
    """The rows read and the read's warnings."""
    from mofang.data import check_sources, read_source
    from mofang.orders import Source, load_order

    if case.reader in (SOURCE, STRICT):
        frame = read_source(Source.model_validate({"path": str(path), **case.options}), strict=case.reader == STRICT)
        return len(frame), tuple(frame.attrs["source"].get("warnings", ()))
    order = load_order(path)
    if case.reader == ORDER:
        return len(order.data), ()
    assert case.reader == ADMIT, case.reader
    check_sources(order)
    return len(order.data), ()
