"""ConsoleProgress: a line per station and process, a live bar while a process runs on a terminal, whole plain
lines (rate-limited, no escape codes) in a pipe."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from mofang.station import ConsoleProgress


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COLUMNS", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def a_training(progress: ConsoleProgress) -> None:
    progress.station_started("model", ("plan", "train"))
    progress.process_started("model", "plan")
    progress.process_finished("model", "plan", "done", 0.1, "3 families")
    progress.process_started("model", "train")
    for trial in range(1, 6):
        progress.process_advanced("model", "train", 10.0 * trial + 0.5, 60.0,
                                  f"lightgbm trial {trial} · best roc_auc 0.8{trial}12")
    progress.process_finished("model", "train", "done", 58.2, "lightgbm roc_auc 0.8512 [5 trials]")
    progress.station_finished("model", "done", 58.4)


def test_on_a_terminal_the_running_process_has_a_bar_with_trials_and_best_score() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, force_interactive=True, width=140)
    progress = ConsoleProgress(console)
    assert progress.live
    a_training(progress)
    assert "\x1b[" in stream.getvalue()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())  # the text without its colours
    assert "model · train" in shown and "━" in shown and " 84%" in shown  # 50.5 s of a 60 s budget
    assert "lightgbm trial 5 · best roc_auc 0.8512" in shown
    assert "✓ train" in shown and "[5 trials]" in shown  # a summary is text, not markup


def test_in_a_pipe_processes_print_plain_lines_with_percent_and_note() -> None:
    stream = io.StringIO()
    progress = ConsoleProgress(Console(file=stream, width=60), min_interval_s=0)
    assert not progress.live
    a_training(progress)
    text = stream.getvalue()
    assert "\x1b" not in text and "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "▶ model  plan → train" and lines[1] == "  ✓ plan 0.1s — 3 families"
    assert lines[2] == "  model · train  18% lightgbm trial 1 · best roc_auc 0.8112"  # never wrapped at 60
    assert lines[6] == "  model · train  84% lightgbm trial 5 · best roc_auc 0.8512"
    assert lines[7:] == ["  ✓ train 58.2s — lightgbm roc_auc 0.8512 [5 trials]", "✓ model done in 58.4s"]


def test_in_a_pipe_a_quick_process_shows_only_its_outcome() -> None:
    stream = io.StringIO()
    progress = ConsoleProgress(Console(file=stream), min_interval_s=3600)
    a_training(progress)
    assert stream.getvalue().splitlines() == ["▶ model  plan → train", "  ✓ plan 0.1s — 3 families",
                                              "  ✓ train 58.2s — lightgbm roc_auc 0.8512 [5 trials]",
                                              "✓ model done in 58.4s"]
