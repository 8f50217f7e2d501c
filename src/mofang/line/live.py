"""What a running process shows while it works: its progress, its reasons so far and the detail it chose to show
(`StationContext.live`, e.g. the model workshop's trials and best score per family), written to its process
record at most once a second, so that a portal in another process can stream it (`metrics["live"]`)."""

from __future__ import annotations

import json
import time
from typing import Any

from mofang.station.context import ProcessRecord
from mofang.station.progress import Progress
from mofang.store import MetaStore
from mofang.store.models import ProcessRun

EVERY_S = 1.0


class LiveRecord:
    """A Progress that passes every call on to `inner` and, on `process_advanced`, writes the running process's
    live state to its record (throttled). Writing is best effort: a failed write never stops the process."""

    def __init__(self, inner: Progress, meta: MetaStore, process_id: int, record: ProcessRecord,
                 every_s: float = EVERY_S) -> None:
        self.inner, self.meta, self.process_id, self.record, self.every_s = inner, meta, process_id, record, every_s
        self._written = 0.0

    def station_started(self, station: str, processes: tuple[str, ...]) -> None:
        self.inner.station_started(station, processes)

    def station_finished(self, station: str, status: str, seconds: float) -> None:
        self.inner.station_finished(station, status, seconds)

    def process_started(self, station: str, process: str) -> None:
        self.inner.process_started(station, process)

    def process_finished(self, station: str, process: str, status: str, seconds: float, summary: str) -> None:
        self.inner.process_finished(station, process, status, seconds, summary)

    def process_advanced(self, station: str, process: str, done: float, total: float | None, note: str) -> None:
        self.inner.process_advanced(station, process, done, total, note)
        if time.monotonic() - self._written < self.every_s:
            return
        self._written = time.monotonic()
        live = {**self.record.live, "done": round(done, 3), "total": total, "note": note}
        try:
            with self.meta.session() as s:
                row = s.get(ProcessRun, self.process_id)
                if row is not None and row.status == "running":
                    row.metrics = {**jsonable(self.record.metrics), "live": jsonable(live)}
                    row.reasons = list(self.record.reasons)
        except Exception:  # noqa: BLE001 - showing progress must not fail the work it shows
            pass


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """The values as JSON can hold them (numpy numbers and the like as their string form)."""
    result: dict[str, Any] = json.loads(json.dumps(values, default=lambda o: o.item() if hasattr(o, "item")
                                                   else str(o)))
    return result
