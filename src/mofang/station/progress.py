"""Progress reporting per station and per process: a console view and a silent one."""

from __future__ import annotations

import sys
import time
from typing import Protocol

from rich.console import Console
from rich.status import Status

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
    """One line per station and per process on the terminal, with a live line for long processes."""

    def __init__(self, console: Console | None = None, min_interval_s: float = 2.0) -> None:
        self.console = console or pipe_safe_console(stderr=True)
        self.live = self.console.is_terminal
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self._status: Status | None = None

    def station_started(self, station: str, processes: tuple[str, ...]) -> None:
        self.console.print(f"[bold]▶ {station}[/]  [dim]{' → '.join(processes)}[/]")

    def station_finished(self, station: str, status: str, seconds: float) -> None:
        self.console.print(f"{_MARKS.get(status, '·')} [bold]{station}[/] {status} in {seconds:.1f}s")

    def process_started(self, station: str, process: str) -> None:
        if self.live:
            self._status = self.console.status(f"  {station} · {process} …")
            self._status.start()

    def process_advanced(self, station: str, process: str, done: float, total: float | None,
                         note: str) -> None:
        share = f" {100 * done / total:.0f}%" if total else ""
        text = f"  {station} · {process}{share} {note}"
        if self._status is not None:
            self._status.update(text)
            return
        now = time.monotonic()
        if now - self._last >= self.min_interval_s:
            self._last = now
            self.console.print(f"[dim]{text}[/]")

    def process_finished(self, station: str, process: str, status: str, seconds: float,
                         summary: str) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        tail = f" — {summary}" if summary else ""
        self.console.print(f"  {_MARKS.get(status, '·')} {process} [dim]{seconds:.1f}s[/]{tail}")
        sys.stderr.flush()
