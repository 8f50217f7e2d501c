"""The order's size and latency limits split candidates before the pick, and the reason says how."""

from __future__ import annotations

from types import SimpleNamespace

from mofang.models.limits import limits_broken, within_limits

SMALL = {"name": "linear", "size_mb": 1.0, "p95_ms": 2.0}
BIG = {"name": "lightgbm", "size_mb": 80.0, "p95_ms": 30.0}


def test_candidates_over_the_limits_are_excluded_with_the_reason() -> None:
    acceptance = SimpleNamespace(max_model_mb=50, p95_latency_ms=20)
    assert limits_broken(BIG, acceptance) == "80.0 MB > 50 MB, p95 30.0 ms > 20 ms"
    split = within_limits([BIG, SMALL], acceptance)
    assert split.pool == [SMALL] and split.note == "; excluded lightgbm (80.0 MB > 50 MB, p95 30.0 ms > 20 ms)"


def test_when_none_meets_the_limits_all_are_kept_and_the_reason_says_so() -> None:
    split = within_limits([BIG, {**BIG, "name": "blend"}], SimpleNamespace(max_model_mb=None, p95_latency_ms=10))
    assert [r["name"] for r in split.pool] == ["lightgbm", "blend"]
    assert split.note.startswith("; no candidate meets the size/latency limits (lightgbm: p95 30.0 ms > 10 ms")


def test_no_limits_no_note_and_an_unmeasured_latency_breaks_a_latency_limit() -> None:
    assert within_limits([BIG], SimpleNamespace(max_model_mb=None, p95_latency_ms=None)).note == ""
    assert limits_broken({**SMALL, "p95_ms": float("nan")}, SimpleNamespace(max_model_mb=None, p95_latency_ms=5))
