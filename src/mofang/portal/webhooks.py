"""Order notifications: one webhook per tenant, signed payloads, deliveries recorded (configuration and signing;
the tables are in `mofang.portal.tables`, re-exported here).

A receiver checks `X-Mofang-Signature: sha256=<hex>`, the HMAC-SHA256 with the tenant's webhook secret of
`<X-Mofang-Timestamp>.<body>` (the timestamp is signed too, so a captured delivery cannot be replayed later
than the receiver's tolerance); `verify_signature` is that check.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from mofang.core.config import settings
from mofang.core.errors import MofangError, NotFoundError
from mofang.portal.tables import DELIVERED, FAILED, PENDING, TABLES, WebhookDelivery, WebhookEndpoint  # noqa: F401 (re-exported)
from mofang.security.crypto import decrypt_bytes, encrypt_bytes
from mofang.security.keys import KeyRing, load_master_key
from mofang.store import MetaStore
from mofang.store.models import Base, Job, utcnow

SIGNATURE_HEADER = "X-Mofang-Signature"
TIMESTAMP_HEADER = "X-Mofang-Timestamp"
EVENT_HEADER = "X-Mofang-Event"
DELIVERY_HEADER = "X-Mofang-Delivery"


class WebhookError(MofangError):
    """A webhook that cannot be configured (bad URL): a 422."""


def ensure_tables(meta: MetaStore) -> None:
    """Create the notification tables if missing. Opening a store migrates them in (revision
    `0003_webhook_tables`), so this is a check that finds them there; kept for callers that still call it."""
    Base.metadata.create_all(meta.engine, tables=TABLES)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, timestamp: str, signature: str, *, tolerance_s: float = 300,
                     now: float | None = None) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    try:
        age = abs((now or time.time()) - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _context(tenant: str) -> bytes:
    return b"mofang-webhook-secret\x00" + tenant.encode()


def check_url(url: str, allow: Sequence[str] | None = None) -> str:
    """An http(s) URL whose host resolves only to public addresses, or is one the operator allows
    (MOFANG_WEBHOOK_ALLOW): a webhook must not make the factory reach its own network (SSRF)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise WebhookError(f"webhook url {url[:80]!r}: give an http(s) URL with a host")
    why = internal_address(parts.hostname, settings().webhook_allow if allow is None else allow)
    if why is not None:
        raise WebhookError(f"webhook url {url[:80]!r}: {why}; an operator may allow it with MOFANG_WEBHOOK_ALLOW")
    return url


def internal_address(host: str, allow: Sequence[str]) -> str | None:
    """Why `host` is no place for a webhook (it resolves to a loopback, private, link-local, reserved or
    multicast address, or does not resolve), or None; hosts and networks in `allow` are let through."""
    if host.lower() in {a.lower() for a in allow}:
        return None
    networks = [ipaddress.ip_network(a, strict=False) for a in allow if _is_network(a)]
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return f"host {host!r} does not resolve"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if any(address in network for network in networks):
            continue
        if not address.is_global or address.is_multicast:
            return f"host {host!r} is an internal address ({address})"
    return None


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def configure(meta: MetaStore, data_key: bytes, tenant: str, url: str) -> str:
    """Set the tenant's webhook (replacing any) with a new secret; returns the secret (shown once). Jobs
    that exist now are not announced."""
    check_url(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with meta.session() as s:
        newest = s.scalar(select(func.max(Job.id)).where(Job.tenant_id == tenant)) or 0
        row = s.get(WebhookEndpoint, tenant)
        if row is None:
            row = WebhookEndpoint(tenant_id=tenant)
            s.add(row)
        row.url, row.since_job_id, row.created_at = url, newest, utcnow()
        row.secret = encrypt_bytes(data_key, secret.encode(), _context(tenant))
    return secret


def secret_of(row: WebhookEndpoint, data_key: bytes) -> bytes:
    return decrypt_bytes(data_key, row.secret, _context(row.tenant_id), name=f"webhook secret of {row.tenant_id}")


def endpoint(meta: MetaStore, tenant: str) -> dict[str, Any]:
    with meta.session() as s:
        row = s.get(WebhookEndpoint, tenant)
        if row is None:
            raise NotFoundError(f"tenant '{tenant}' has no webhook")
        return {"tenant": tenant, "url": row.url, "created_at": row.created_at.isoformat()}


def remove(meta: MetaStore, tenant: str) -> None:
    with meta.session() as s:
        row = s.get(WebhookEndpoint, tenant)
        if row is None:
            raise NotFoundError(f"tenant '{tenant}' has no webhook")
        s.delete(row)


def deliveries(meta: MetaStore, tenant: str, limit: int = 100) -> list[dict[str, Any]]:
    """The tenant's deliveries, newest first."""
    with meta.session() as s:
        rows = s.scalars(select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant)
                         .order_by(WebhookDelivery.id.desc()).limit(limit))
        return [{"id": r.id, "job_id": r.job_id, "order_id": r.order_id, "event": r.event, "status": r.status,
                 "attempts": r.attempts, "last_status_code": r.last_status_code, "last_error": r.last_error,
                 "created_at": r.created_at.isoformat(),
                 "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None} for r in rows]


def master_data_key(meta: MetaStore, home: Path, tenant: str) -> bytes:
    """The tenant's data key (unwrapped with this install's master key)."""
    return KeyRing(meta, load_master_key(home)).data_key(tenant)
