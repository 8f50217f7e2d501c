"""Queue an order for the workers: the same intake as `mofang run`, then a queued job instead of a run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mofang.orders import Order
from mofang.scheduling.admission import admit
from mofang.scheduling.placement import order_needs
from mofang.scheduling.queue import Queue
from mofang.store import MetaStore


def submit(order: Order, meta: MetaStore, *, priority: int = 0, max_attempts: int | None = None,
           source_file: str | Path | None = None, actor: str = "local",
           stations: Sequence[Any] | None = None,
           on_read: Callable[[float, float | None, str], None] | None = None) -> int:
    """Admit the order (validation, every source readable, target present), register its job and queue it;
    returns the job id. `stations` overrides the standard line's needs (tests); `on_read(done, total, note)`
    hears the sources' bytes read while admission reads them."""
    job_id = admit(order, meta, source_file=source_file, actor=actor, on_read=on_read)
    needs = order_needs(order, stations)
    queue = Queue(meta)
    try:
        queue.enqueue(job_id, priority=priority, max_attempts=max_attempts, needs=needs)
    finally:
        queue.close()
    return job_id
