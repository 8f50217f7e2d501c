"""The malformed-input corpus through the real readers in this process: every case read, or refused with a
DataError/OrderError naming the file and what is wrong; never another exception, never a hang."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.hardening.corpus import ANY, OK, TIMEOUT_S, Case, cases
from tests.hardening.runner import run_case

CASES = cases()


def _param(case: Case):  # noqa: ANN202 - a pytest ParameterSet
    # not strict: the owner's fix turns the case into a pass without breaking CI (then drop its `xfail`)
    marks = [pytest.mark.xfail(reason=case.xfail, strict=False, raises=BaseException)] if case.xfail else []
    return pytest.param(case, id=case.name, marks=marks)


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 200
    families = Counter(case.name.split("-", 1)[0] for case in CASES)
    assert {"encoding", "truncated", "zip", "xlsx", "huge", "nesting", "types", "empty", "headers", "nul", "junk",
            "csv", "order", "admit"} <= set(families), families
    assert sum(case.expect not in (OK, ANY) for case in CASES) >= 120  # most cases name the refusal they expect


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: Case, tmp_path: Path) -> None:
    outcome = run_case(case, tmp_path)
    assert outcome.seconds < min(case.timeout, TIMEOUT_S)
    if outcome.error is None:
        assert case.expect in (OK, ANY), f"read {outcome.rows} rows; expected a refusal matching {case.expect!r}"
        assert outcome.rows, "read without a single row"
        assert not case.flag or any(re.search(case.flag, w) for w in outcome.warnings), \
            f"read {outcome.rows} rows without a warning matching {case.flag!r}: {outcome.warnings}"
        return
    assert case.expect != OK, f"refused: {outcome.error}"
    named = [case.filename, *case.extra]
    assert any(name in outcome.error for name in named), f"the message names no file: {outcome.error}"
    reason = outcome.error.split(": ", 1)[-1]
    assert len(reason) >= 10, f"the message says too little: {outcome.error}"
    for expected in {case.expect, case.flag} - {ANY, None}:
        assert re.search(expected, outcome.error, re.S), f"{outcome.error!r} does not match {expected!r}"
