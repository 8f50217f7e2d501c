"""Progress reporting per station and per process: a console view and a silent one."""

from __future__ import annotations

import sys
from typing import Protocol

from rich.console import Console
from rich.markup import escape

from mofang.core.terminal import PLAIN_EVERY_S, ProgressBar
from mofang.core.terminal import console as pipe_safe_console


class Progress(Protocol):
    def station_started(self, station: str, processes: tuple[str, ...]) -> None: ...
    def station_finished(self, station: str, status: str, seconds: float) -> None: ...
    def process_started(self, station: str, process: str) -> None: ...
    def process_advanced(self, station: str, process: str, done: float, total: float | None,
                         note: str) -> None: ...
    def process_finished(self, station: str, process: str, status: str, seconds: float,
                         summary: str) -> None: ...


class SilentProgress:
    """Reports nothing (library use, tests)."""

    def station_started(self, station: str, processes: tuple[str, ...]) -> None: ...
    def station_finished(self, station: str, status: str, seconds: float) -> None: ...
    def process_started(self, station: str, process: str) -> None: ...
    def process_advanced(self, station: str, process: str, done: float, total: float | None,
                         note: str) -> None: ...
    def process_finished(self, station: str, process: str, status: str, seconds: float,
                         summary: str) -> None: ...


_MARKS = {"done": "[green]✓[/]", "skipped": "[dim]↷[/]", "failed": "[red]✗[/]",
          "interrupted": "[yellow]■[/]", "resumed": "[cyan]↺[/]"}


class ConsoleProgress:
    """One line per station and per process, and a progress bar while a process runs (`mofang.core.terminal`):
    on a terminal a live bar with percent, elapsed and remaining time, done/total and the process's note (a
    spinner and the note while it has no total); off a terminal, whole plain lines at most every
    `min_interval_s`, and the last state once a process has printed any (a quick one shows only its ✓ line)."""

    def __init__(self, console: Console | None = None, min_interval_s: float = PLAIN_EVERY_S) -> None:
        self.console = console or pipe_safe_console(stderr=True)
        self.min_interval_s = min_interval_s
        self._bar: ProgressBar | None = None

    @property
    def live(self) -> bool:
        """Whether bars are drawn live (a terminal) rather than printed as lines."""
        return self.console.is_terminal and self.console.is_interactive

    def station_started(self, station: str, processes: tuple[str, ...]) -> None:
        self.console.print(f"[bold]▶ {station}[/]  [dim]{' → '.join(processes)}[/]")

    def station_finished(self, station: str, status: str, seconds: float) -> None:
        self.console.print(f"{_MARKS.get(status, '·')} [bold]{station}[/] {status} in {seconds:.1f}s")

    def process_started(self, station: str, process: str) -> None:
        self._stop_bar()
        self._bar = ProgressBar(self.console, f"{station} · {process}", None, every_s=self.min_interval_s,
                                indent="  ", quiet_when_quick=True).start()

    def process_advanced(self, station: str, process: str, done: float, total: float | None,
                         note: str) -> None:
        bar = self._bar
        if bar is None or bar.description != f"{station} · {process}":  # advanced without being started
            self.process_started(station, process)
            bar = self._bar
        assert bar is not None
        bar.update(done, total, note)

    def process_finished(self, station: str, process: str, status: str, seconds: float,
                         summary: str) -> None:
        self._stop_bar()
        tail = f" — {escape(summary)}" if summary else ""
        self.console.print(f"  {_MARKS.get(status, '·')} {process} [dim]{seconds:.1f}s[/]{tail}")
        sys.stderr.flush()

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
