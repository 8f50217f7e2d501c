"""The scheduler's timing and retry settings: one definition, read from MOFANG_SCHED_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class SchedulerConfig:
    """Leases, heartbeats, polling and retries. Each field can be set by `MOFANG_SCHED_<FIELD>` (upper case)."""

    lease_s: float = 30.0  # a lease not renewed for this long is expired: its worker is taken for dead
    heartbeat_s: float = 5.0  # how often a worker renews its leases
    poll_s: float = 1.0  # how long an idle worker waits before asking the queue again
    max_attempts: int = 3  # claims of a job before a transient failure becomes final
    backoff_s: float = 10.0  # first retry delay; doubles with each attempt
    backoff_max_s: float = 600.0
    sweep_grace_s: float = 0.0  # leave unreferenced artifacts younger than this (extra safety margin)

    def __post_init__(self) -> None:
        if self.heartbeat_s <= 0 or self.lease_s <= 2 * self.heartbeat_s:
            raise ValueError(f"lease_s ({self.lease_s}) must exceed two heartbeats ({self.heartbeat_s}s each)")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    @classmethod
    def from_env(cls, **overrides: float | int) -> SchedulerConfig:
        """Defaults, then MOFANG_SCHED_* variables, then explicit overrides."""
        values: dict[str, float | int] = {}
        for f in fields(cls):
            raw = os.environ.get(f"MOFANG_SCHED_{f.name.upper()}")
            if raw is not None:
                try:
                    values[f.name] = int(raw) if f.type in (int, "int") else float(raw)
                except ValueError:
                    raise ValueError(f"MOFANG_SCHED_{f.name.upper()}={raw!r} is not a number") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
