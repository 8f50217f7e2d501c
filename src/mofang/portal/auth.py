"""Who is calling the portal: an API key (header) or a signed-in session (cookie), authorized per action."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from mofang.core.errors import NotFoundError
from mofang.portal.sessions import CSRF_HEADER, SESSION_COOKIE, Session, SessionStore
from mofang.security.audit import ACCESS_DENIED, AuditLog
from mofang.security.authz import Forbidden, authorize
from mofang.security.identity import AuthError, Identity, authenticate, key_is_live
from mofang.security.scope import TenantScope
from mofang.store import MetaStore

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key: mf_<id>_<secret>")
_bearer = HTTPBearer(auto_error=False, description="An API key as a bearer token")


@dataclass
class PortalState:
    """What every request of one portal app shares: the store, MOFANG_HOME, sessions and limits."""

    meta: MetaStore
    home: Path
    sessions: SessionStore
    max_upload_bytes: int
    _verified: dict[str, Identity]  # sha256 of a presented key -> its identity (login audited once)
    _lock: threading.Lock

    @classmethod
    def create(cls, meta: MetaStore, home: Path, max_upload_bytes: int) -> PortalState:
        return cls(meta, home, SessionStore(meta), max_upload_bytes, {}, threading.Lock())

    def identify(self, key: str) -> Identity:
        """The identity of a presented key (scrypt once per key and process, revocation checked each time)."""
        digest = hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
        with self._lock:
            known = self._verified.get(digest)
        if known is None:
            known = authenticate(self.meta, key, via="api")
            with self._lock:
                self._verified[digest] = known
        elif not self.key_is_live(known):
            with self._lock:
                self._verified.pop(digest, None)
            return authenticate(self.meta, key, via="api")  # refused: says revoked or expired, and audits it
        return known

    def key_is_live(self, identity: Identity) -> bool:
        """Neither revoked nor expired since it was verified."""
        return key_is_live(self.meta, identity.key_id)


@dataclass
class Caller:
    """An authenticated caller: its identity, the unscoped store (for the audit log and for mutations after
    authorizing) and `view`, the store as the identity may see it (tenant-scoped at the chokepoint)."""

    identity: Identity
    meta: MetaStore
    view: MetaStore
    session: Session | None = None

    @property
    def wide(self) -> bool:
        """Sees every tenant (the factory operator)."""
        return self.identity.is_operator

    def tenant_filter(self, tenant: str | None) -> str | None:
        """The tenant a listing may show: a tenant identity sees only its own (another one reads as missing)."""
        if self.wide:
            return tenant
        if tenant not in (None, self.identity.tenant):
            raise NotFoundError(f"no tenant '{tenant}'")
        return self.identity.tenant

    def allow(self, action: str, tenant: str | None, what: str | None = None) -> None:
        """Authorize `action` on `tenant`'s object; refusals are audited (via "api") and raised."""
        try:
            authorize(self.identity, action, tenant, what=what)
        except (Forbidden, NotFoundError):
            AuditLog(self.meta).record(ACCESS_DENIED, actor=self.identity.user, tenant=self.identity.tenant,
                                       object=action, details={"via": "api", "asked_for": what or ""})
            raise

    def operator(self, action: str) -> None:
        """Refuse (403, audited) unless the caller is the factory operator."""
        if not self.wide:
            AuditLog(self.meta).record(ACCESS_DENIED, actor=self.identity.user, tenant=self.identity.tenant,
                                       object=action, details={"via": "api"})
            raise Forbidden(f"{self.identity.user} ({self.identity.role}) may not {action} (operators only)")


def portal_state(request: Request) -> PortalState:
    return request.app.state.portal


def optional_caller(request: Request, api_key: str | None = Depends(_api_key_header),
                    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Caller | None:
    """The caller of a request, or None when it carries no key and no session. A key sent in a header
    wins over the session cookie; a cookie-authenticated request that changes state needs the session's
    CSRF token in the X-CSRF-Token header."""
    state = portal_state(request)
    key = api_key or (bearer.credentials if bearer else None)
    if key:
        identity = state.identify(key)
        return Caller(identity, state.meta, state.meta.scoped(TenantScope.of(identity)))
    session = state.sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    if not state.key_is_live(session.identity):
        state.sessions.close(request.cookies.get(SESSION_COOKIE))
        raise AuthError("this session's API key was revoked; sign in again")
    if request.method not in SAFE_METHODS and not _is_form_page(request) \
            and not session.csrf_ok(request.headers.get(CSRF_HEADER)):
        raise Forbidden("missing or wrong CSRF token (send the session's token in X-CSRF-Token)")
    return Caller(session.identity, state.meta, state.meta.scoped(TenantScope.of(session.identity)), session)


def current_caller(caller: Caller | None = Depends(optional_caller)) -> Caller:
    """The authenticated caller; 401 without a key or a session."""
    if caller is None:
        raise HTTPException(401, "an API key is required: send 'Authorization: Bearer mf_...' or 'X-API-Key', "
                                 "or sign in", headers={"WWW-Authenticate": "Bearer"})
    return caller


def _is_form_page(request: Request) -> bool:
    """Portal pages (not /api) check the CSRF token of their HTML forms themselves (see pages.csrf_form)."""
    return not request.url.path.startswith("/api/")
