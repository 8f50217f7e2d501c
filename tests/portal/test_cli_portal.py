"""`mofang portal` as an operator starts it: the API answers, its embedded worker runs, and both stop cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from mofang.products.server import free_port


def test_mofang_portal_serves_the_api_with_an_embedded_worker(tmp_path: Path) -> None:
    from mofang.security.identity import create_api_key, create_tenant
    from mofang.store import MetaStore

    home = tmp_path / "home"
    env = {**os.environ, "MOFANG_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    env.pop("MOFANG_DB_URL", None)
    meta = MetaStore(f"sqlite:///{home / 'mofang.db'}")
    create_tenant(meta, "acme")
    operator = create_api_key(meta, tenant=None, user="ops", role="operator")[1]
    owner = create_api_key(meta, tenant="acme", user="ann", role="owner")[1]
    meta.dispose()
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mofang.cli", "portal", "--port", str(port), "--workers", "1"],
                               env={**env, "MOFANG_API_KEY": operator}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/me", headers={"X-API-Key": owner}, timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
                time.sleep(0.3)
        assert answer.json()["user"] == "ann" and answer.json()["tenant"] == "acme"
        workers = psutil.Process(process.pid).children(recursive=True)
        assert workers, "no embedded worker process"
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    assert process.returncode == 0, output
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, [(w.pid, w.cmdline()) for w in alive]
