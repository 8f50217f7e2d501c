"""A stop that was asked for stays asked for until it is acted on.

Ctrl-C (or a cancel) raises KeyboardInterrupt wherever the main thread is, and code that is not ours may swallow
it: a library's ``except BaseException``, a finalizer (``__del__``) or a callback whose exceptions are only
logged. The signal handler therefore also records the stop here, and the line checks it at safe points (before
each process, between trials), so a swallowed Ctrl-C stops the job at the next one instead of being lost.
"""

from __future__ import annotations

import threading

_requested = threading.Event()


def request() -> None:
    """Record a stop (called by a signal handler, before it raises KeyboardInterrupt)."""
    _requested.set()


def requested() -> bool:
    """True while a stop is recorded and not yet acted on."""
    return _requested.is_set()


def clear() -> None:
    """The stop was acted on (the job ended, was interrupted or handed back)."""
    _requested.clear()


def check() -> None:
    """Raise KeyboardInterrupt if a stop is recorded: a safe point of the line."""
    if _requested.is_set():
        raise KeyboardInterrupt
