"""Portal sign-in sessions: a random id in an HttpOnly cookie; the identity, CSRF token and expiry kept in the
metadata store (`portal_sessions`, keyed by the id's SHA-256), so they survive a restart and are shared by every
worker process of the portal."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete

from mofang.portal.tables import PortalSession
from mofang.security.identity import Identity, Role
from mofang.store import MetaStore

SESSION_COOKIE = "mofang_session"
CSRF_COOKIE = "mofang_csrf"  # before sign-in: the double-submit token of the sign-in form
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_TTL_S = 8 * 3600
SWEEP_EVERY_S = 600.0  # how often opening a session also deletes the expired ones


@dataclass
class Session:
    """One signed-in browser: who it is (its key's identity), its CSRF token and when it expires."""

    identity: Identity
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    expires_at: float = field(default_factory=lambda: time.time() + SESSION_TTL_S)

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf, str(presented))


def digest(sid: str) -> str:
    """What the store keeps of a session id (the id itself is a bearer secret)."""
    return hashlib.sha256(sid.encode("utf-8", "replace")).hexdigest()


class SessionStore:
    """Sessions by id, in the metadata store. The cookie carries only the random id, never the API key."""

    def __init__(self, meta: MetaStore, ttl_s: float = SESSION_TTL_S) -> None:
        self.meta, self.ttl_s = meta, ttl_s
        self._swept = 0.0

    def open(self, identity: Identity) -> tuple[str, Session]:
        """A new session of `identity`: its id (for the cookie) and the session."""
        sid = secrets.token_urlsafe(32)
        session = Session(identity=identity, expires_at=time.time() + self.ttl_s)
        with self.meta.session() as s:
            if time.monotonic() - self._swept > SWEEP_EVERY_S:
                s.execute(delete(PortalSession).where(PortalSession.expires_at < datetime.now(UTC)))
                self._swept = time.monotonic()
            s.add(PortalSession(id_hash=digest(sid), key_id=identity.key_id, user=identity.user,
                                tenant_id=identity.tenant, role=str(identity.role.value), csrf=session.csrf,
                                expires_at=datetime.fromtimestamp(session.expires_at, UTC)))
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session of a cookie's id; None when unknown or expired (an expired one is deleted)."""
        if not sid:
            return None
        with self.meta.session() as s:
            row = s.get(PortalSession, digest(sid))
            if row is None:
                return None
            expires = _utc(row.expires_at)
            if expires <= datetime.now(UTC):
                s.delete(row)
                return None
            identity = Identity(user=row.user, tenant=row.tenant_id, role=Role(row.role), key_id=row.key_id)
            return Session(identity=identity, csrf=row.csrf, expires_at=expires.timestamp())

    def close(self, sid: str | None) -> None:
        """Sign out: the session is deleted (its cookie no longer opens anything, in any process)."""
        if sid:
            with self.meta.session() as s:
                s.execute(delete(PortalSession).where(PortalSession.id_hash == digest(sid)))

    def close_key(self, key_id: str | None) -> int:
        """Sign out every browser signed in with this key (sign out everywhere, a revoked key); how many."""
        if not key_id:
            return 0
        with self.meta.session() as s:
            result = s.execute(delete(PortalSession).where(PortalSession.key_id == key_id))
            return int(getattr(result, "rowcount", 0) or 0)


def _utc(moment: datetime) -> datetime:
    """A stored time as aware UTC (SQLite hands back naive datetimes, written in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
