"""Request micro-batching: concurrent /predict requests are answered by one model call.

Batches form naturally: while the model answers one batch (in a worker thread), requests that arrive queue
up and the next call takes them all (up to `max_rows`). A batch the model answers in under `inline_ms` (by
the moving average of its recent seconds per row) runs on the event loop itself: handing it to a worker
thread and back costs more than that on a busy host (the GIL changes hands twice); a slower one (a large
batch, a transformer) goes to a worker thread so the loop keeps accepting requests meanwhile.
`max_wait_ms` > 0 also holds a lone request that long for company; the default 0 adds no latency to a
request that finds the model idle (bench/serving.py measured both: see docs/DESIGN-NOTES.md). One failing
batch is retried request by request, so a request that breaks the model fails alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Answer = dict[str, Any]
INLINE_MS = 2.0  # a batch expected to take less runs on the event loop, not in a worker thread


@dataclass
class _Pending:
    records: list[dict[str, Any]]
    future: asyncio.Future[Answer]
    batch_rows: list[int] = field(default_factory=list)


class MicroBatcher:
    """Coalesces concurrent `submit` calls into calls of `predict(records) -> {"predictions": [...], ...}`,
    whose list values hold one entry per record."""

    def __init__(self, predict: Callable[[list[dict[str, Any]]], Answer], *, max_rows: int = 2048,
                 max_wait_ms: float = 0.0, on_batch: Callable[[int], None] | None = None,
                 inline_ms: float = INLINE_MS) -> None:
        self.predict, self.max_rows, self.max_wait_s = predict, max_rows, max_wait_ms / 1000.0
        self.on_batch = on_batch
        self.inline_s = inline_ms / 1000.0
        self._row_s: float | None = None  # seconds per row of recent model calls (moving average)
        self._queue: asyncio.Queue[_Pending] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, records: list[dict[str, Any]]) -> Answer:
        """The answer for these records, computed together with whatever else is waiting."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._worker is None or self._worker.done():
            self._loop, self._queue = loop, asyncio.Queue()
            self._worker = loop.create_task(self._run())
        pending = _Pending(records, loop.create_future())
        assert self._queue is not None
        self._queue.put_nowait(pending)
        return await pending.future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            rows = len(batch[0].records)
            if self.max_wait_s > 0:
                deadline = asyncio.get_running_loop().time() + self.max_wait_s
                while rows < self.max_rows and (left := deadline - asyncio.get_running_loop().time()) > 0:
                    try:
                        item = await asyncio.wait_for(queue.get(), left)
                    except TimeoutError:
                        break
                    batch.append(item)
                    rows += len(item.records)
            while rows < self.max_rows and not queue.empty():
                item = queue.get_nowait()
                batch.append(item)
                rows += len(item.records)
            await self._answer(batch, rows)

    async def _answer(self, batch: list[_Pending], rows: int) -> None:
        records = [r for item in batch for r in item.records]
        try:
            if self._row_s is not None and self._row_s * rows <= self.inline_s:
                answer = self._timed(records)  # cheaper here than the hand-off to a worker thread
            else:
                answer = await asyncio.to_thread(self._timed, records)
        except Exception as exc:  # noqa: BLE001 - a batch is retried one by one, so only the request at fault fails
            if len(batch) == 1:
                _settle(batch[0].future, exc)
                return
            for item in batch:
                await self._answer([item], len(item.records))
            return
        if self.on_batch is not None:
            self.on_batch(rows)
        start = 0
        for item in batch:
            end = start + len(item.records)
            part = {k: (v[start:end] if isinstance(v, list) and len(v) == rows else v) for k, v in answer.items()}
            _settle(item.future, part)
            start = end


    def _timed(self, records: list[dict[str, Any]]) -> Answer:
        # CPU time of this thread: in a worker thread, the wall clock would count waits for the GIL too
        started = time.thread_time()
        answer = self.predict(records)
        row_s = (time.thread_time() - started) / max(1, len(records))
        self._row_s = row_s if self._row_s is None else 0.8 * self._row_s + 0.2 * row_s
        return answer


def _settle(future: asyncio.Future[Answer], outcome: Answer | BaseException) -> None:
    if future.done():  # the request was cancelled (client went away)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
