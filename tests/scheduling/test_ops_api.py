"""The operations endpoint a worker serves: Prometheus metrics, and devices for operators only."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from mofang.scheduling.ops_api import serve_ops
from mofang.security.identity import create_api_key, create_tenant


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_ops_server_serves_metrics_and_guards_devices(meta, home: Path) -> None:
    create_tenant(meta, "acme")
    _, operator = create_api_key(meta, tenant=None, user="ops", role="operator")
    _, owner = create_api_key(meta, tenant="acme", user="li", role="owner")
    port = _free_port()
    server = serve_ops(port, meta, home=home)
    try:
        base = f"http://127.0.0.1:{port}"
        scraped = httpx.get(f"{base}/metrics/", follow_redirects=True, timeout=10)
        assert scraped.status_code == 200 and "mofang_" in scraped.text
        assert httpx.get(f"{base}/devices", timeout=10).status_code == 401
        refused = httpx.get(f"{base}/devices", headers={"X-API-Key": owner}, timeout=10)
        assert refused.status_code == 403
        listed = httpx.get(f"{base}/devices", headers={"Authorization": f"Bearer {operator}"}, timeout=10)
        assert listed.status_code == 200
        body = listed.json()
        assert body["nodes"][0]["kind"] == "local" and body["nodes"][0]["cpus_logical"] >= 1
        assert {c["name"] for c in body["health"]["checks"]} >= {"database", "home"}
    finally:
        server.should_exit = True
