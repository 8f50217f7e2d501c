"""Consoles whose output survives a pipe: `mofang run … | tee log`, CI logs and cron mails keep every line whole;
progress bars that are Rich's live bars on a terminal and plain, rate-limited lines everywhere else."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleDimensions, RenderableType
from rich.progress import (
    BarColumn,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Column
from rich.text import Text

PIPE_WIDTH = 4096  # tables in piped output are laid out this wide unless COLUMNS says otherwise: nothing wraps


class PipeSafeConsole(Console):
    """Rich's console on a terminal; elsewhere (a pipe, a file, a test runner) it never hard-wraps a printed line,
    lays tables out at `COLUMNS` (or wide enough for any row) and colours nothing unless `FORCE_COLOR` is set.

    Rich itself honours `NO_COLOR` and `FORCE_COLOR`; whether the stream is a terminal is asked at each print, so
    a console made at import time is still right when the stream is swapped later."""

    @property
    def size(self) -> ConsoleDimensions:
        if self.is_terminal or self._width is not None:
            return Console.size.fget(self)  # type: ignore[attr-defined]
        columns = os.environ.get("COLUMNS", "")
        width = int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH
        return ConsoleDimensions(width, self._height or 25)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    def print(self, *objects: Any, **kwargs: Any) -> None:  # noqa: D102 - Rich's print, soft-wrapped off a terminal
        if not self.is_terminal:
            kwargs.setdefault("soft_wrap", True)
        super().print(*objects, **kwargs)


def console(*, stderr: bool = False) -> PipeSafeConsole:
    """The console the CLI and the line's progress print to (standard output, or standard error)."""
    return PipeSafeConsole(stderr=stderr, highlight=False)


# -- progress bars -------------------------------------------------------------------------------------------------
PLAIN_EVERY_S = 2.0  # off a terminal, a bar prints at most one line this often (and always its last state)
_KEEP: Any = object()  # `ProgressBar.update(total=...)` left out: the total stays as it was


def count_text(done: float, total: float | None) -> str:
    """`done/total` as a bar shows it, when both are whole numbers (items, rows, bytes, steps): '7/12',
    '12,345/80,000', '22.0M/52.4M'; '' for fractions (seconds of a budget: the bar and its times say it)."""
    if not _whole(done) or (total is not None and not _whole(total)):
        return ""
    if total is None:
        return _compact(done) if done > 0 else ""
    return f"{_compact(done)}/{_compact(total)}"


def _whole(value: float) -> bool:
    return float(value).is_integer()


def _compact(value: float) -> str:
    number = int(value)
    if abs(number) < 100_000:
        return f"{number:,}"
    for size, suffix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(number) >= size:
            return f"{number / size:.1f}{suffix}"
    return str(number)  # pragma: no cover - every number over 100,000 has a suffix above


def plain_line(description: str, done: float, total: float | None, note: str) -> str:
    """A bar's state as one plain line: description, percent (with a total), done/total and the note."""
    parts = [description]
    if total:
        parts.append(f"{min(100.0, max(0.0, 100 * done / total)):3.0f}%")
    count = count_text(done, total)
    if count:
        parts.append(count)
    if note:
        parts.append(note)
    return " ".join(parts)


class ProgressBar:
    """A long step's progress: on a terminal, Rich's live bar — spinner, description, bar, percent, elapsed,
    time left, done/total and a note — or, while the total is unknown, the spinner, elapsed time and the note;
    elsewhere (a pipe, `| tee`, a CI log, a test) whole plain lines with no escape codes or carriage returns, at
    most one every `every_s` seconds, each with its percent and note, and the last state always printed when the
    bar reaches its total or stops — unless `quiet_when_quick` and the step ended before its first line was due
    (a station's process: its ✓ line says how it ended). Safe to update from several threads.

        with progress_bar(console, total=size, description="export") as bar:
            for chunk in chunks:
                bar.advance(len(chunk))
    """

    def __init__(self, console: Console, description: str, total: float | None = None, *, note: str = "",
                 every_s: float = PLAIN_EVERY_S, transient: bool = True, indent: str = "",
                 quiet_when_quick: bool = False, clock: Callable[[], float] = time.monotonic) -> None:
        self.console, self.description, self.every_s, self.transient = console, description, every_s, transient
        self.indent, self.quiet_when_quick, self.clock = indent, quiet_when_quick, clock
        self.done, self.total, self.note = 0.0, total, note
        self.live = console.is_terminal and console.is_interactive
        self._lock = threading.RLock()
        self._progress: RichProgress | None = None
        self._task: TaskID | None = None
        self._printed, self._last = "", 0.0
        self._running = False

    def start(self) -> ProgressBar:
        with self._lock:
            if self._running:
                return self
            self._running, self._last = True, self.clock()
            if self.live:
                self._progress = _LiveBar(self.console, self.indent, self.transient)
                self._task = self._progress.add_task(self.description, total=self.total, note=self.note,
                                                     open=self.total is None)
                self._progress.start()
        return self

    def update(self, done: float, total: float | None = _KEEP, note: str | None = None) -> None:
        """Set how much is done (and the total, None when unknown; and the note, when given)."""
        with self._lock:
            self.done = done
            if total is not _KEEP:
                self.total = total
            if note is not None:
                self.note = note
            if not self._running:
                return
            if self._progress is not None and self._task is not None:
                known = self.total is not None
                self._progress.update(self._task, completed=done, total=self.total if known else None,
                                      note=self.note, open=not known)
                return
            due = self.clock() - self._last >= self.every_s
            finished = bool(self.total) and done >= (self.total or 0)
            if due or (finished and not self.quiet_when_quick):
                self._print()

    def advance(self, step: float = 1, note: str | None = None) -> None:
        """Add `step` to what is done."""
        with self._lock:
            self.update(self.done + step, note=note)

    def stop(self, *, failed: bool = False) -> None:
        """End the bar: the live bar is taken away (`transient`) or left as it ended; off a terminal the last
        state is printed unless it was the last line printed — or the step `failed`: then its error is what
        follows, and a last line such as "0% 0/6.0M bytes" would only stand before it."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            if self._progress is not None:
                self._progress.stop()
                self._progress, self._task = None, None
            elif not failed and (self.done or self.note) and (self._printed or not self.quiet_when_quick):
                self._print()

    def _print(self) -> None:
        line = self.indent + plain_line(self.description, self.done, self.total, self.note)
        self._last = self.clock()
        if line != self._printed:
            self._printed = line
            self.console.print(Text(line, style="dim"), soft_wrap=True, highlight=False)

    def __enter__(self) -> ProgressBar:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, *_exc: object) -> None:
        self.stop(failed=kind is not None)


def progress_bar(console: Console, total: float | None, description: str, *, note: str = "",
                 every_s: float = PLAIN_EVERY_S, transient: bool = True, indent: str = "",
                 quiet_when_quick: bool = False) -> ProgressBar:
    """A ProgressBar to use as a context manager: `with progress_bar(console, total, "export") as bar: ...`."""
    return ProgressBar(console, description, total, note=note, every_s=every_s, transient=transient, indent=indent,
                       quiet_when_quick=quiet_when_quick)


BAR_WIDTH = 24


class _LiveBar(RichProgress):
    """Rich's progress display of one bar: its note (and done/total) beside the bar when the line fits the
    terminal, else on a line of its own under it — a bar never wraps and its times are never cut."""

    def __init__(self, console: Console, indent: str, transient: bool) -> None:
        self.indent = indent
        lead: tuple[ProgressColumn, ...] = (TextColumn(indent, markup=False, table_column=_fixed()),) if indent else ()
        super().__init__(*lead, SpinnerColumn(table_column=_fixed()),
                         TextColumn("{task.description}", markup=False, style="bold", table_column=_fixed()),
                         _Bar(bar_width=BAR_WIDTH, table_column=_fixed()), _Percent(table_column=_fixed()),
                         _Times(table_column=_fixed()), _Note(table_column=Column(overflow="ellipsis")),
                         console=console, transient=transient, refresh_per_second=8)

    def get_renderables(self) -> Iterable[RenderableType]:
        tasks = self.tasks
        for task in tasks:
            task.fields["below"] = not self._fits(task)
        yield self.make_tasks_table(tasks)
        for task in tasks:
            note = _note_text(task)
            if task.fields["below"] and note:
                yield Text(f"{self.indent}  {note}", no_wrap=True, overflow="ellipsis")

    def _fits(self, task: Task) -> bool:
        # each cell is followed by a space; a bar and its percent take their width, or a space each without a total
        lead = cell_len(self.indent) + 1 if self.indent else 0
        bar = 2 if _open(task) else BAR_WIDTH + 1 + 4 + 1
        fixed = lead + 2 + cell_len(task.description) + 1 + bar + len(_times_text(task)) + 1
        return fixed + cell_len(_note_text(task)) < self.console.width


def _fixed() -> Column:
    return Column(no_wrap=True)


def _open(task: Task) -> bool:
    """Whether a bar's total is unknown (then it shows a spinner, its time and its note, no bar)."""
    return task.total is None or bool(task.fields.get("open"))


def _note_text(task: Task) -> str:
    count = count_text(task.completed, None if _open(task) else task.total)
    return " ".join(p for p in (count, str(task.fields.get("note") or "")) if p)


def _clock_text(seconds: float) -> str:
    minutes, second = divmod(int(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"


def _times_text(task: Task) -> str:
    """Elapsed, and what is left when it can be told: '0:38<0:22'."""
    elapsed = _clock_text(task.elapsed or 0.0)
    left = None if _open(task) or task.finished else task.time_remaining
    return elapsed if left is None else f"{elapsed}<{_clock_text(left)}"


class _Bar(BarColumn):
    def render(self, task: Task) -> Any:
        return Text("") if _open(task) else super().render(task)


class _Percent(ProgressColumn):
    def render(self, task: Task) -> Text:
        if _open(task) or not task.total:
            return Text("")
        return Text(f"{min(100.0, 100 * task.completed / task.total):3.0f}%", style="progress.percentage")


class _Times(ProgressColumn):
    max_refresh = 0.5  # the time left jitters otherwise

    def render(self, task: Task) -> Text:
        return Text(_times_text(task), style="progress.elapsed")


class _Note(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text("" if task.fields.get("below") else _note_text(task), no_wrap=True, overflow="ellipsis")
