"""The factory's operations endpoint: what `mofang worker --metrics-port P` serves on 127.0.0.1:P.

`/metrics` (Prometheus: queue depth, job and station durations, worker health, device gauges) and
`/devices`, `/devices/health` (the device management center's inventory and health checks, operators only:
`Authorization: Bearer mf_...` or `X-API-Key`). The REST API of the customer service center mounts the same
parts; this is the endpoint a worker host has without it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mofang.core.errors import MofangError
from mofang.devices.api import devices_router, operator_guard
from mofang.scheduling import metrics
from mofang.store import MetaStore


def create_ops_app(meta: MetaStore, home: Path | None = None) -> FastAPI:
    """The operations app: Prometheus metrics for anyone who can reach the port, devices for operators."""
    app = FastAPI(title="Mofang operations", description="Queue, workers and devices of this factory.")
    app.include_router(devices_router(operator_guard(meta), meta=meta, home=home))
    app.mount("/metrics", metrics.asgi_app(meta))
    return app


def serve_ops(port: int, meta: MetaStore, addr: str = "127.0.0.1", home: Path | None = None,
              timeout_s: float = 10.0) -> Any:
    """Serve the operations app from a daemon thread; returns the running uvicorn server."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(create_ops_app(meta, home), host=addr, port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name="mofang-ops-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise MofangError(f"could not serve the operations endpoint on {addr}:{port} (port in use?)")
        time.sleep(0.05)
    return server
