"""Run a product's API on a loopback port in a background thread (demo, tests, smoke checks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from mofang.integration.bundle import open_bundle
from mofang.products.multi import Served, serving_app
from mofang.store import MetaStore
from mofang.store.models import ProductVersion


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(version: ProductVersion, timeout_s: float = 30.0,
                   guard: Callable[[str | None], Any] | None = None, store: Any = None) -> Iterator[str]:
    """Serve a product version on 127.0.0.1:<free port>; yields its base URL; stops on exit. Feedback and the
    call audit go to `store` (the default MetaStore when None)."""
    meta = store or MetaStore()
    try:
        served = Served(open_bundle(version.bundle_path, version.product.tenant_id, meta), version.version, guard)
        with running_app(serving_app([served], store=meta), timeout_s) as url:
            yield url
    finally:
        if store is None:
            meta.dispose()


@contextmanager
def running_app(app: Any, timeout_s: float = 30.0) -> Iterator[str]:
    """Run an ASGI app on 127.0.0.1:<free port> in a thread; yields its base URL; stops (and runs its shutdown
    hooks) on exit."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError(f"the product server did not start on {url}")
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
