"""Consoles whose output survives a pipe: `mofang run … | tee log`, CI logs and cron mails keep every line whole."""

from __future__ import annotations

import os
from typing import Any

from rich.console import Console, ConsoleDimensions

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
