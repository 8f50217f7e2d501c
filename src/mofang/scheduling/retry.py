"""Which failures are worth another attempt, and how long to wait before it."""

from __future__ import annotations

from typing import Literal

from mofang.core.errors import MofangError

Kind = Literal["permanent", "transient"]

# Ray's errors for a task whose worker or node died, by name (ray need not be installed to classify).
_RAY_LOST = {"WorkerCrashedError", "NodeDiedError", "ObjectLostError", "OwnerDiedError", "RaySystemError",
             "LocalRayletDiedError", "TaskUnschedulableError", "ActorDiedError", "OutOfMemoryError"}


def classify(exc: BaseException) -> Kind:
    """Permanent: bad input or a bug (MofangError, DataError, OrderError, any other exception) — the same
    attempt would fail the same way. Transient: the machine, not the job (OSError incl. timeouts and lost
    connections, MemoryError, a database that was busy or went away, a Ray worker or node that died).

    The runner wraps a process's error in JobFailed (`raise ... from exc`), so the cause chain is followed.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        kind = _own_kind(current)
        if kind is not None:
            return kind
        current = current.__cause__ or current.__context__
    return "permanent"


def _own_kind(exc: BaseException) -> Kind | None:
    if isinstance(exc, OSError | MemoryError):
        return "transient"
    name = type(exc).__name__
    if name in _RAY_LOST:
        return "transient"
    if name == "RayTaskError" or name.startswith("RayTaskError("):  # Ray re-raises the task's own error class
        cause = getattr(exc, "cause", None)
        return classify(cause) if isinstance(cause, BaseException) else None
    if type(exc).__module__.startswith("sqlalchemy") and name in {"OperationalError", "DisconnectionError",
                                                                  "TimeoutError", "InterfaceError"}:
        return "transient"
    if isinstance(exc, MofangError) and type(exc).__name__ != "JobFailed":
        return "permanent"
    return None


def backoff_s(attempt: int, *, base_s: float, max_s: float) -> float:
    """Delay before attempt `attempt + 1` after `attempt` failed ones: base, 2×base, 4×base … capped."""
    if attempt < 1:
        return 0.0
    return float(min(max_s, base_s * 2 ** (attempt - 1)))
