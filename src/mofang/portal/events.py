"""Live progress of a job as server-sent events: a snapshot of its stations and processes on every change."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from anyio import to_thread

from mofang.portal.records import TERMINAL_JOB

POLL_S = 0.5
KEEPALIVE_S = 15.0


def sse(event: str, data: Any) -> str:
    """One server-sent event (`event:` and a JSON `data:` line)."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


async def job_events(snapshot: Callable[[], dict[str, Any]], *, max_s: float = 3600.0,
                     poll_s: float = POLL_S) -> AsyncIterator[str]:
    """`progress` with the job (stations and processes) whenever it changes, then `end` once the job is
    finished (or after max_s: the browser's EventSource reconnects); comments keep idle proxies open."""
    last, quiet_since, started = None, time.monotonic(), time.monotonic()
    while True:
        job = await to_thread.run_sync(snapshot)
        if job != last:
            yield sse("progress", job)
            last, quiet_since = job, time.monotonic()
        if job["status"] in TERMINAL_JOB:
            yield sse("end", {"job_id": job["job_id"], "status": job["status"]})
            return
        if time.monotonic() - started > max_s:
            return
        if time.monotonic() - quiet_since > KEEPALIVE_S:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(poll_s)
