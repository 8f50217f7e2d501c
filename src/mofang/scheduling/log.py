"""Structured JSON log lines per worker process: <MOFANG_HOME>/logs/worker-<pid>.jsonl.

Not per job: a job folder is encrypted. Only names and numbers go in (job, tenant, station, process, event,
timings, error *types*); field names are checked against an allow-list, so no data value, error message or
key can be logged by accident.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ALLOWED = frozenset({"job", "tenant", "order", "station", "process", "status", "seconds", "attempt", "attempts",
                     "state", "error_kind", "error_type", "executor", "node", "removed", "result", "worker_index",
                     "exit_code", "priority", "backoff_s", "slots", "workers", "claim_s", "finish_s", "heartbeat_s",
                     "beats"})


class JsonLog:
    """Appends one JSON object per line; safe to share between threads of one process."""

    def __init__(self, home: Path, worker: str) -> None:
        self.path = Path(home) / "logs" / f"worker-{os.getpid()}.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.worker = worker
        self._lock = threading.Lock()

    def event(self, event: str, **fields: Any) -> None:
        unknown = set(fields) - ALLOWED
        if unknown:
            raise ValueError(f"log fields {sorted(unknown)} are not allowed (allowed: {', '.join(sorted(ALLOWED))})")
        for key, value in fields.items():
            if value is not None and not isinstance(value, str | int | float | bool):
                raise ValueError(f"log field {key!r} must be a name or a number, not {type(value).__name__}")
        record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "pid": os.getpid(),
                  "worker": self.worker, "event": event, **{k: v for k, v in fields.items() if v is not None}}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)


class JsonProgress:
    """The line's Progress protocol as log lines (no summaries: they may quote data), keeping each station's
    (name, status, seconds) for the metrics; `display`, a Progress for people (the console), gets every call
    too."""

    def __init__(self, log: JsonLog, job: int, tenant: str, attempt: int, display: Any = None) -> None:
        self.log, self.job, self.tenant, self.attempt, self.display = log, job, tenant, attempt, display
        self.stations: list[tuple[str, str, float]] = []
        self._started = time.monotonic()

    def _event(self, event: str, **fields: Any) -> None:
        self.log.event(event, job=self.job, tenant=self.tenant, attempt=self.attempt, **fields)

    def station_started(self, station: str, processes: tuple[str, ...]) -> None:
        self._event("station.started", station=station)
        if self.display is not None:
            self.display.station_started(station, processes)

    def station_finished(self, station: str, status: str, seconds: float) -> None:
        self.stations.append((station, status, seconds))
        self._event("station.finished", station=station, status=status, seconds=round(seconds, 3))
        if self.display is not None:
            self.display.station_finished(station, status, seconds)

    def process_started(self, station: str, process: str) -> None:
        self._event("process.started", station=station, process=process)
        if self.display is not None:
            self.display.process_started(station, process)

    def process_advanced(self, station: str, process: str, done: float, total: float | None, note: str) -> None:
        if self.display is not None:  # too chatty for a log; the process records keep the outcome
            self.display.process_advanced(station, process, done, total, note)

    def process_finished(self, station: str, process: str, status: str, seconds: float, summary: str) -> None:
        self._event("process.finished", station=station, process=process, status=status, seconds=round(seconds, 3))
        if self.display is not None:
            self.display.process_finished(station, process, status, seconds, summary)
