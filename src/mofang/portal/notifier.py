"""The webhook dispatcher: notices job state changes, posts signed payloads, retries with backoff.

It reads the job table (so it sees what any worker, local or remote, did) and keeps an outbox: each
(job, state) becomes one delivery row the first time it is seen, and rows are sent until the receiver
answers 2xx or the attempts run out. A state that lasts less than one poll may go unseen; the final state
of every job is always announced.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select

from mofang.portal.records import outcome_view
from mofang.portal.webhooks import (
    DELIVERED,
    DELIVERY_HEADER,
    EVENT_HEADER,
    FAILED,
    PENDING,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookError,
    check_url,
    master_data_key,
    secret_of,
    sign,
)
from mofang.store import MetaStore
from mofang.store.models import Job, OrderRecord, utcnow

log = logging.getLogger(__name__)


class Notifier:
    """Polls every `poll_s`; a failed delivery is retried after backoff_s · 2^(attempt-1) (capped at
    max_backoff_s), at most `max_attempts` times."""

    def __init__(self, meta: MetaStore, home: Path, *, poll_s: float = 1.0, backoff_s: float = 2.0,
                 max_backoff_s: float = 300.0, max_attempts: int = 6, timeout_s: float = 10.0) -> None:
        self.meta, self.home = meta, home
        self.poll_s, self.backoff_s, self.max_backoff_s = poll_s, backoff_s, max_backoff_s
        self.max_attempts, self.timeout_s = max_attempts, timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mofang-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s + 5)

    def _loop(self) -> None:
        with httpx.Client(timeout=self.timeout_s, follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    self.scan()
                    self.send_due(client)
                except Exception:  # noqa: BLE001 - a bad row or a DB hiccup must not end notifications
                    log.exception("webhook dispatch failed; trying again in %.1fs", self.poll_s)
                self._stop.wait(self.poll_s)

    def scan(self) -> int:
        """Add a delivery for each job state not announced yet; returns how many were added."""
        added = 0
        with self.meta.session() as s:
            for hook in s.scalars(select(WebhookEndpoint)).all():
                seen = {(d.job_id, d.event) for d in s.scalars(select(WebhookDelivery).where(
                    WebhookDelivery.tenant_id == hook.tenant_id, WebhookDelivery.job_id > hook.since_job_id))}
                jobs = s.execute(select(Job, OrderRecord.order_id).join(OrderRecord, OrderRecord.id == Job.order_pk)
                                 .where(Job.tenant_id == hook.tenant_id, Job.id > hook.since_job_id))
                for job, order_id in jobs:
                    event = f"job.{job.status}"
                    if (job.id, event) in seen:
                        continue
                    body = {"event": event, "tenant": job.tenant_id, "order_id": order_id, "job_id": job.id,
                            "status": job.status, "error": job.error,
                            "occurred_at": datetime.now(UTC).isoformat(), "outcome": outcome_view(job.outcome)}
                    s.add(WebhookDelivery(tenant_id=job.tenant_id, job_id=job.id, order_id=order_id, event=event,
                                          url=hook.url, body=json.dumps(body, ensure_ascii=False, sort_keys=True)))
                    added += 1
        return added

    def send_due(self, client: httpx.Client) -> int:
        """Send every pending delivery whose time has come; returns how many were attempted."""
        now = time.time()
        with self.meta.session() as s:
            due = [d.id for d in s.scalars(select(WebhookDelivery).where(
                WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.id))]
        for delivery_id in due:
            self._send(client, delivery_id)
        return len(due)

    def _send(self, client: httpx.Client, delivery_id: int) -> None:
        with self.meta.session() as s:
            row = s.get(WebhookDelivery, delivery_id)
            hook = s.get(WebhookEndpoint, row.tenant_id) if row is not None else None
            if row is None:
                return
            if hook is None:  # the webhook was removed: nothing to send to any more
                row.status, row.last_error = FAILED, "webhook removed"
                return
            secret = secret_of(hook, master_data_key(self.meta, self.home, row.tenant_id))
            body, url, event = row.body.encode("utf-8"), hook.url, row.event
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", EVENT_HEADER: event, TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: sign(secret, timestamp, body), DELIVERY_HEADER: str(delivery_id),
                   "User-Agent": "mofang-webhooks"}
        code, error = None, None
        try:
            check_url(url)  # again at each delivery: where a name resolves may have changed since it was set
            code = client.post(url, content=body, headers=headers, follow_redirects=False).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except WebhookError as exc:
            error = str(exc)[:500]
        with self.meta.session() as s:
            row = s.get(WebhookDelivery, delivery_id)
            row.attempts += 1
            row.last_status_code, row.last_error = code, error or (None if code and code < 300 else f"HTTP {code}")
            if code is not None and 200 <= code < 300:
                row.status, row.delivered_at = DELIVERED, utcnow()
            elif row.attempts >= self.max_attempts:
                row.status = FAILED
            else:
                row.next_attempt_at = time.time() + min(self.max_backoff_s, self.backoff_s * 2 ** (row.attempts - 1))
