"""Small real stations for line tests: they count their runs in files and can be told to stop."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from mofang.core.errors import DataError
from mofang.station import Station, StationContext


def _bump(ctx: StationContext, name: str) -> None:
    counter = ctx.path(f"count-{name}")
    counter.write_text(str(int(counter.read_text()) + 1 if counter.exists() else 1))


class Produce(Station):
    name = "produce"
    outputs = ("numbers",)
    processes = ("make", "double")

    def make(self, ctx: StationContext) -> str:
        _bump(ctx, "make")
        ctx.save("raw_numbers", {"values": [1, 2, 3]})
        ctx.reason("made three numbers")
        return "3 numbers"

    def double(self, ctx: StationContext) -> str:
        _bump(ctx, "double")
        values = ctx.load("raw_numbers")["values"]
        trap = Path(os.environ.get("MOFANG_TEST_TRAP", "/nonexistent"))
        if trap.exists():
            mode = trap.read_text()
            trap.unlink()
            if mode == "interrupt":
                raise KeyboardInterrupt
            if mode == "swallow":  # a real Ctrl-C that a library swallows (a finalizer, an `except BaseException`)
                try:
                    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)
                    time.sleep(5)
                except KeyboardInterrupt:
                    ctx.path("swallowed").write_text("yes")
            if mode == "fail":
                raise DataError("the numbers are bad", source="numbers.csv", row=2)
            if mode == "hang":
                ctx.path("hanging").write_text("yes")
                time.sleep(600)
        ctx.save("numbers", {"values": [v * 2 for v in values]})
        ctx.metric(total=sum(values) * 2)
        return "doubled"


class Consume(Station):
    name = "consume"
    inputs = ("numbers",)
    outputs = ("sum",)
    processes = ("add",)

    def add(self, ctx: StationContext) -> str:
        _bump(ctx, "add")
        ctx.save("sum", {"sum": sum(ctx.load("numbers")["values"])})
        return "summed"


LINE = [Produce(), Consume()]
