"""Order notifications: a tenant's webhook gets each job state, signed, retried with backoff, recorded."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mofang.portal.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature
from tests.portal.conftest import OTHER, Factory


class Receiver(ThreadingHTTPServer):
    """A real HTTP receiver on loopback that answers 500 to the first delivery, then 200, and keeps them all."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                self.send_response(500 if len(outer.received) == 1 else 200)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/mofang"


@pytest.fixture()
def receiver():
    server = Receiver()
    yield server
    server.shutdown()


def test_signatures_bind_the_body_and_the_timestamp() -> None:
    secret, body, now = b"whsec_x", b'{"event":"job.done"}', time.time()
    signature = sign(secret, str(int(now)), body)
    assert verify_signature(secret, body, str(int(now)), signature, now=now)
    assert not verify_signature(secret, body + b" ", str(int(now)), signature, now=now)
    assert not verify_signature(secret, body, str(int(now) + 1), signature, now=now)
    assert not verify_signature(secret, body, str(int(now)), signature, now=now + 3600)  # a replay, too late
    assert not verify_signature(b"other", body, str(int(now)), signature, now=now)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://10.0.0.7/hook", "http://[::1]/hook", "http://localhost/hook"])
def test_a_webhook_may_not_point_into_the_factorys_network(factory: Factory, url: str, monkeypatch) -> None:
    monkeypatch.delenv("MOFANG_WEBHOOK_ALLOW", raising=False)
    with factory.client("owner_b") as b:
        refused = b.put("/api/v1/webhook", json={"url": url})
        assert refused.status_code == 422 and "internal address" in refused.text, refused.text
        assert "MOFANG_WEBHOOK_ALLOW" in refused.text


def test_an_operator_may_allow_an_internal_webhook_host(monkeypatch) -> None:
    from mofang.portal.webhooks import WebhookError, check_url

    monkeypatch.setenv("MOFANG_WEBHOOK_ALLOW", "hooks.intra, 10.2.0.0/16")
    assert check_url("http://10.2.3.4/hook") == "http://10.2.3.4/hook"
    with pytest.raises(WebhookError, match="internal address"):
        check_url("http://10.3.0.1/hook")
    with pytest.raises(WebhookError, match="does not resolve"):
        check_url("https://no-such-host.invalid/hook")


def test_a_tenant_webhook_gets_signed_state_changes_with_retries(factory: Factory, receiver: Receiver,
                                                                 monkeypatch) -> None:
    monkeypatch.setenv("MOFANG_WEBHOOK_ALLOW", "127.0.0.1")  # the receiver runs on this machine
    with factory.client("owner_b") as b:
        assert b.put("/api/v1/webhook", json={"url": "file:///etc/passwd"}).status_code == 422
        hook = b.put("/api/v1/webhook", json={"url": receiver.url})
        assert hook.status_code == 200, hook.text
        secret = hook.json()["secret"].encode()
        assert "secret" not in b.get("/api/v1/webhook").json()
        upload = b.post("/api/v1/uploads", params={"name": "loans.csv"}, content=factory.csv.read_bytes()).json()
        order = (f"id: hooked\ntenant: {OTHER}\ntask: tabular-classification\ntarget: 是否违约\n"
                 f"id_column: 借款编号\ndata: [{{path: {upload['order_path']}}}]\nacceptance: none\n")
        job = b.post("/api/v1/orders", json={"yaml": order})
        assert job.status_code == 201, job.text
        job_id = job.json()["job_id"]
        b.post(f"/api/v1/jobs/{job_id}/cancel")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            deliveries = b.get("/api/v1/webhook/deliveries").json()
            if any(d["event"] == "job.cancelled" and d["status"] == "delivered" for d in deliveries) and all(
                    d["status"] == "delivered" for d in deliveries):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"not delivered in time: {deliveries}")
    assert sum(d["attempts"] for d in deliveries) == len(deliveries) + 1  # one retry after the 500
    assert any(d["attempts"] == 2 and d["last_status_code"] == 200 for d in deliveries)
    events = []
    for headers, body in receiver.received:
        assert verify_signature(secret, body, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER])
        payload = json.loads(body)
        assert payload["tenant"] == OTHER and payload["job_id"] == job_id and payload["order_id"] == "hooked"
        events.append(payload["event"])
    assert "job.cancelled" in events
    assert "demo-bank" not in b"".join(body for _, body in receiver.received).decode()
