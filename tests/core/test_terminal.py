"""Consoles off a terminal: no hard wrap, tables as wide as their rows (or COLUMNS), colour only when forced; progress
bars: Rich's bar on a terminal, whole plain lines, rate-limited, elsewhere."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.table import Table

from mofang.core.terminal import PIPE_WIDTH, PipeSafeConsole, ProgressBar, count_text, progress_bar

LONG = "/tmp/" + "a-very-long-folder-name/" * 8 + "file.csv"


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("COLUMNS", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


def piped(**kwargs) -> tuple[PipeSafeConsole, io.StringIO]:
    stream = io.StringIO()
    return PipeSafeConsole(file=stream, highlight=False, **kwargs), stream


def test_a_long_line_is_not_wrapped_and_has_no_colour_codes() -> None:
    console, stream = piped()
    console.print(f"[bold red]error:[/] no file {LONG} — check the path")
    assert stream.getvalue() == f"error: no file {LONG} — check the path\n"
    assert console.width == PIPE_WIDTH


def test_a_table_keeps_each_row_on_one_line() -> None:
    console, stream = piped()
    table = Table("column", "samples")
    table.add_row("path", LONG)
    console.print(table)
    assert sum(LONG in line for line in stream.getvalue().splitlines()) == 1


def test_columns_sets_the_table_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    console, stream = piped()
    table = Table("column", "samples")
    table.add_row("path", LONG)
    console.print(table)
    assert console.width == 60 and max(len(line) for line in stream.getvalue().splitlines()) <= 60


def test_force_color_colours_and_no_color_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    console, stream = piped()
    console.print("[red]red[/]")
    assert "\x1b[" in stream.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    console, stream = piped()
    console.print("[red]red[/]")
    assert "\x1b[31m" not in stream.getvalue()


# -- progress bars -------------------------------------------------------------------------------------------------
class Clock:
    """A clock the test moves: rate limiting checked without sleeping or timing anything."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def on_a_terminal() -> tuple[Console, io.StringIO]:
    stream = io.StringIO()
    return Console(file=stream, force_terminal=True, force_interactive=True, width=120, color_system="standard"), \
        stream


def test_on_a_terminal_a_bar_shows_percent_done_of_total_and_the_note() -> None:
    console, stream = on_a_terminal()
    with progress_bar(console, 40, "data · ingest", note="bytes of loan.csv") as bar:
        bar.update(10)
        bar.update(30, note="bytes of loan [2024].csv")
    shown = stream.getvalue()
    assert "data · ingest" in shown and "━" in shown  # the bar itself
    assert " 75%" in shown and "30/40 bytes of loan [2024].csv" in shown  # a note is text, never markup
    assert "\x1b[" in shown


def test_on_a_terminal_a_bar_without_a_total_is_a_spinner_and_its_note() -> None:
    console, stream = on_a_terminal()
    with progress_bar(console, None, "admission", note="checking the order's sources") as bar:
        bar.update(0, None, "reading loan.csv")
    shown = stream.getvalue()
    assert "reading loan.csv" in shown and "%" not in shown and "━" not in shown


def test_big_counts_are_compact_and_fractions_are_left_to_the_bar() -> None:
    assert count_text(7, 12) == "7/12" and count_text(12_345, 80_000) == "12,345/80,000"
    assert count_text(22_020_096, 52_428_800) == "22.0M/52.4M" and count_text(1_500, None) == "1,500"
    assert count_text(12.5, 60.0) == "" and count_text(0, None) == ""  # seconds of a budget: percent and times


def test_off_a_terminal_each_state_is_one_whole_plain_line() -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=40)  # not a terminal: lines must not wrap at its width either
    with progress_bar(console, 4, "model · train", every_s=0) as bar:
        for done in range(1, 5):
            bar.update(done, note=f"lightgbm trial {done} · best roc_auc 0.87{done} [/]")
    lines = stream.getvalue().splitlines()
    assert lines == [f"model · train {p:3d}% {d}/4 lightgbm trial {d} · best roc_auc 0.87{d} [/]"
                     for d, p in ((1, 25), (2, 50), (3, 75), (4, 100))]
    assert "\x1b" not in stream.getvalue() and "\r" not in stream.getvalue()


def test_off_a_terminal_lines_are_rate_limited_and_the_last_state_is_always_printed() -> None:
    stream, clock = io.StringIO(), Clock()
    bar = ProgressBar(Console(file=stream), "export", 100, every_s=2.0, clock=clock).start()
    for step in range(1, 20):  # 19 updates over 9.5 s
        clock.now = step / 2
        bar.update(step * 5, note="bytes written")
    assert [line.split()[1] for line in stream.getvalue().splitlines()] == ["20%", "40%", "60%", "80%"]
    bar.update(97)
    bar.stop()  # the last state, although the next line was not due yet
    assert stream.getvalue().splitlines()[-1] == "export  97% 97/100 bytes written"
    bar.stop()
    assert len(stream.getvalue().splitlines()) == 5


def test_off_a_terminal_the_total_reached_is_printed_at_once_and_only_once() -> None:
    stream, clock = io.StringIO(), Clock()
    with ProgressBar(Console(file=stream), "export", 10, every_s=60, clock=clock) as bar:
        bar.update(3)
        bar.update(10, note="done")
    assert stream.getvalue() == "export 100% 10/10 done\n"


def test_a_quick_step_may_stay_quiet_but_a_long_one_ends_with_its_last_state() -> None:
    stream, clock = io.StringIO(), Clock()
    with ProgressBar(Console(file=stream), "data · ingest", 10, every_s=2, quiet_when_quick=True, clock=clock) as bar:
        bar.update(10, note="read")
    assert stream.getvalue() == ""  # its ✓ line will say how it ended
    with ProgressBar(Console(file=stream), "model · train", 10, every_s=2, quiet_when_quick=True,
                     clock=clock) as bar:
        clock.now = 3
        bar.update(4, note="trial 4")
        bar.update(9, note="trial 9")
    assert stream.getvalue().splitlines() == ["model · train  40% 4/10 trial 4", "model · train  90% 9/10 trial 9"]


def test_on_a_narrow_terminal_the_note_goes_under_the_bar_instead_of_wrapping_it() -> None:
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, force_interactive=True, width=70, color_system=None)
    with progress_bar(console, 60.0, "model · train", indent="  ", transient=False) as bar:
        bar.update(38.2, note="lightgbm trial 12 · best roc_auc 0.8712")
    last = stream.getvalue().split("\r")[-1]  # the final frame
    lines = [line.strip() for line in last.replace("\x1b[2K", "").replace("\x1b[1A", "").splitlines() if line.strip()]
    assert "model · train ━" in lines[0] and re.search(r" 64% \d+:\d\d(<\d+:\d\d)?$", lines[0])
    assert lines[1] == "lightgbm trial 12 · best roc_auc 0.8712"


def test_a_step_that_fails_leaves_its_error_as_the_next_line_not_a_last_percent() -> None:
    """`mofang run` on a 6 MB single-line CSV: the error must be what the user reads first, not "0% 0/6.0M"."""
    stream, clock = io.StringIO(), Clock()
    with pytest.raises(ValueError), ProgressBar(Console(file=stream), "admission", 6_000_000, every_s=2,
                                                clock=clock) as bar:
        bar.update(0, note="bytes of loans.csv")
        raise ValueError("line 1 is longer than 1 MiB")
    assert stream.getvalue() == ""
