"""Portal sign-in sessions: a random id in an HttpOnly cookie, the identity and CSRF token kept server-side."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from mofang.security.identity import Identity

SESSION_COOKIE = "mofang_session"
CSRF_COOKIE = "mofang_csrf"  # before sign-in: the double-submit token of the sign-in form
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_TTL_S = 8 * 3600


@dataclass
class Session:
    """One signed-in browser: who it is (its key's identity), its CSRF token and when it expires."""

    identity: Identity
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    expires_at: float = field(default_factory=lambda: time.time() + SESSION_TTL_S)

    def csrf_ok(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf, str(presented))


class SessionStore:
    """Sessions of one portal process, by id. The cookie carries only the random id, never the API key."""

    def __init__(self, ttl_s: float = SESSION_TTL_S) -> None:
        self.ttl_s = ttl_s
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, identity: Identity) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(identity=identity, expires_at=time.time() + self.ttl_s)
        with self._lock:
            self._drop_expired()
            self._sessions[sid] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None and session.expires_at < time.time():
                del self._sessions[sid]
                return None
            return session

    def close(self, sid: str | None) -> None:
        with self._lock:
            self._sessions.pop(sid or "", None)

    def _drop_expired(self) -> None:
        now = time.time()
        for sid in [s for s, v in self._sessions.items() if v.expires_at < now]:
            del self._sessions[sid]
