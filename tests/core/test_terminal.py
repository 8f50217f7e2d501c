"""Consoles off a terminal: no hard wrap, tables as wide as their rows (or COLUMNS), colour only when forced."""

from __future__ import annotations

import io

import pytest
from rich.table import Table

from mofang.core.terminal import PIPE_WIDTH, PipeSafeConsole

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
