"""Identities: tenants, API keys (stored only as salted scrypt hashes) and the CLI's local identity."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from mofang.core.config import settings
from mofang.core.errors import MofangError, NotFoundError
from mofang.security.audit import LOGIN, LOGIN_FAILED, AuditLog
from mofang.security.tables import ApiKey
from mofang.store.models import Tenant, utcnow

if TYPE_CHECKING:  # the store may import the security center; keep this module free of the cycle
    from mofang.store.meta import MetaStore

# The same pattern as mofang.orders.schema.SLUG, not imported so security does not pull in the orders package.
SLUG = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

KEY_PREFIX = "mf"
KEY_ENV = "MOFANG_API_KEY"
IDENTITY_FILE = "identity"
_KEY_RE = re.compile(r"^mf_(?P<key_id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_DUMMY_SALT = b"\0" * 16  # hashed against when the key id is unknown, so both paths cost one scrypt
_SPAN = re.compile(r"^\s*(?P<count>\d+)\s*(?P<unit>[hdw])\s*$")
_SPAN_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


class AuthError(MofangError):
    """No valid identity (unknown, malformed, revoked or expired key): a 401, never echoing the key."""


class KeyExpired(AuthError):
    """A key past its expiry; its secret matched, so the refusal is audited under its owner."""

    def __init__(self, row: ApiKey, expired_at: datetime) -> None:
        who = "an owner of its tenant (or the operator)" if row.tenant_id else "another operator"
        super().__init__(f"API key mf_{row.key_id}_… expired on {_shown(expired_at)}; ask {who} for a new key")
        self.user, self.tenant, self.key_id, self.expired_at = row.user, row.tenant_id, row.key_id, expired_at


class Role(StrEnum):
    """Tenant roles (owner, member, viewer) and the factory operator, who belongs to no tenant."""

    OWNER = "owner"
    MEMBER = "member"
    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclass(frozen=True)
class Identity:
    """Who is acting: a user of a tenant in a role, or an operator (tenant None).

    `bootstrap` marks the local operator of a fresh install that has no API key yet (see local_identity).
    """

    user: str
    tenant: str | None
    role: Role
    key_id: str | None
    bootstrap: bool = False

    def __post_init__(self) -> None:
        if (self.role is Role.OPERATOR) != (self.tenant is None):
            raise ValueError(f"role {self.role} with tenant {self.tenant!r}: operators have no tenant, others one")

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


def validate_slug(value: str, what: str = "tenant") -> str:
    """Return value if it is a valid tenant/user slug, else raise MofangError."""
    if not isinstance(value, str) or not re.match(SLUG, value):
        raise MofangError(f"invalid {what} name {value!r}: use 1-64 letters, digits, '_', '.', '-', "
                          "starting with a letter or digit")
    return value


def create_tenant(meta: MetaStore, tenant: str) -> None:
    """Create a tenant; creating an existing one is a no-op."""
    validate_slug(tenant)
    with meta.session() as s:
        if s.get(Tenant, tenant) is None:
            s.add(Tenant(id=tenant))


def parse_expiry(text: str, now: datetime | None = None) -> datetime:
    """When a key created with `--expires TEXT` expires: a span from now (`30d`, `12h`, `2w`), or an ISO date or
    time (UTC unless it names an offset; a date means 00:00 UTC that day). MofangError when unreadable."""
    now = now or utcnow()
    span = _SPAN.match(text)
    if span is not None:
        try:
            return now + int(span["count"]) * _SPAN_UNITS[span["unit"]]
        except OverflowError:
            raise MofangError(f"expiry '{text}' is too far away") from None
    try:
        moment = datetime.fromisoformat(text.strip())  # a bare date reads as its 00:00
    except ValueError:
        raise MofangError(f"cannot read expiry '{text}': write a span such as 30d, 12h or 2w, or an ISO date "
                          "such as 2027-06-30") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def create_api_key(meta: MetaStore, *, tenant: str | None, user: str, role: Role | str,
                   expires_at: datetime | None = None) -> tuple[Identity, str]:
    """Create a key for user in tenant (None for an operator key), valid until `expires_at` (None: until
    revoked); return its identity and the key.

    The key is returned only here: the store keeps a random salt and the scrypt hash of its secret.
    """
    try:
        role = Role(role)
    except ValueError:
        raise MofangError(f"unknown role '{role}' (expected: {', '.join(r.value for r in Role)})") from None
    validate_slug(user, "user")
    if (role == Role.OPERATOR) != (tenant is None):
        raise MofangError("an operator key has no tenant" if tenant is not None
                          else f"{role.value} keys belong to a tenant: name it (--tenant)")
    expires_at = _utc(expires_at)
    if expires_at is not None and expires_at <= utcnow():
        raise MofangError(f"the expiry {_shown(expires_at)} is not in the future")
    identity = Identity(user=user, tenant=tenant, role=role, key_id=secrets.token_hex(6))
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    with meta.session() as s:
        if tenant is not None and s.get(Tenant, tenant) is None:
            raise NotFoundError(f"no tenant '{tenant}' (create it first)")
        s.add(ApiKey(key_id=identity.key_id, tenant_id=tenant, user=user, role=role.value, salt=salt,
                     key_hash=_hash(secret, salt), expires_at=expires_at))
    return identity, f"{KEY_PREFIX}_{identity.key_id}_{secret}"


def authenticate(meta: MetaStore, presented: str, *, via: str | None = None) -> Identity:
    """The identity of a presented key; AuthError when it is malformed, unknown, wrong, revoked or expired.

    With `via` (the entry point: "cli", "serve", ...), the outcome is written to the audit log: a `login`
    event, or `login.failed` with the key id only (never the secret). An expired key's refusal is written
    always (a caller that skips the audit of keys it saw before still records that one stopped working),
    under the key's user and tenant."""
    try:
        identity = _authenticate(meta, presented)
    except KeyExpired as exc:
        _audit(meta, LOGIN_FAILED, actor=exc.user, tenant=exc.tenant, object=f"mf_{exc.key_id}",
               details={"via": via or "unknown", "reason": "expired", "expired_at": exc.expired_at.isoformat()})
        raise
    except AuthError as exc:
        if via:
            match = _KEY_RE.match(presented.strip()) if isinstance(presented, str) else None
            _audit(meta, LOGIN_FAILED, actor="unknown", tenant=None,
                   object=f"mf_{match['key_id']}" if match else "malformed key",
                   details={"via": via, "reason": str(exc).split(" mf_")[0]})
        raise
    if via:
        _audit(meta, LOGIN, actor=identity.user, tenant=identity.tenant, object=f"mf_{identity.key_id}",
               details={"via": via, "role": str(identity.role)})
    return identity


def _authenticate(meta: MetaStore, presented: str) -> Identity:
    """The identity of a presented key; AuthError when it is malformed, unknown, wrong or revoked, KeyExpired
    when it is past its expiry."""
    match = _KEY_RE.match(presented.strip()) if isinstance(presented, str) else None
    if match is None:
        raise AuthError("malformed API key (expected mf_<key id>_<secret>)")
    key_id, secret = match["key_id"], match["secret"]
    with meta.session() as s:
        row = s.get(ApiKey, key_id)
        salt, stored = (row.salt, row.key_hash) if row is not None else (_DUMMY_SALT, b"")
        matches = hmac.compare_digest(_hash(secret, salt), stored)
        if row is None or not matches:
            raise AuthError(f"unknown or invalid API key mf_{key_id}_…")
        if row.revoked_at is not None:
            raise AuthError(f"API key mf_{key_id}_… was revoked on {row.revoked_at:%Y-%m-%d}")
        expires_at = _utc(row.expires_at)
        if expires_at is not None and expires_at <= utcnow():
            raise KeyExpired(row, expires_at)
        return Identity(user=row.user, tenant=row.tenant_id, role=Role(row.role), key_id=row.key_id)


def key_state(row: ApiKey, now: datetime | None = None) -> str:
    """'live', 'revoked' or 'expired': whether a stored key still opens the factory."""
    if row.revoked_at is not None:
        return "revoked"
    expires_at = _utc(row.expires_at)
    return "expired" if expires_at is not None and expires_at <= (now or utcnow()) else "live"


def key_is_live(meta: MetaStore, key_id: str | None) -> bool:
    """Whether the key `key_id` still opens the factory (neither revoked nor expired): for callers that verified
    a key once and keep its identity (a portal session)."""
    with meta.session() as s:
        row = s.get(ApiKey, key_id) if key_id else None
        return row is not None and key_state(row) == "live"


def list_api_keys(meta: MetaStore, tenant: str | None = None) -> list[dict[str, Any]]:
    """Every key (of `tenant`, when given) oldest first, as the listing shows it: never a secret or hash."""
    query = select(ApiKey).order_by(ApiKey.created_at, ApiKey.key_id)
    if tenant is not None:
        query = query.where(ApiKey.tenant_id == tenant)
    with meta.session() as s:
        now = utcnow()
        return [{"key_id": row.key_id, "tenant": row.tenant_id, "user": row.user, "role": row.role,
                 "created_at": _utc(row.created_at), "expires_at": _utc(row.expires_at),
                 "revoked_at": _utc(row.revoked_at), "state": key_state(row, now)} for row in s.scalars(query)]


def revoke_api_key(meta: MetaStore, key_id: str) -> None:
    """Revoke a key for good; revoking it again keeps the first revocation time."""
    with meta.session() as s:
        row = s.get(ApiKey, key_id)
        if row is None:
            raise NotFoundError(f"no API key {key_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()


def local_identity(meta: MetaStore) -> Identity:
    """The identity the CLI acts as.

    In order: the key in $MOFANG_API_KEY; the key in <MOFANG_HOME>/identity (must be mode 0600).
    Without either, a fresh install that has never created an API key runs as the bootstrap local
    operator (user "local", allowed everything), so a single-user install works with no setup. Once
    any key exists (even revoked), bootstrap ends and the CLI needs a key: AuthError otherwise.
    """
    presented = os.environ.get(KEY_ENV)
    if presented:
        return authenticate(meta, presented, via="cli")
    path = settings().home / IDENTITY_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise AuthError(f"{path} is readable by others; run: chmod 600 {path}")
        return authenticate(meta, path.read_text(encoding="utf-8"), via="cli")
    with meta.session() as s:
        keys = s.scalar(select(func.count()).select_from(ApiKey))
    if keys == 0:
        return Identity(user="local", tenant=None, role=Role.OPERATOR, key_id=None, bootstrap=True)
    raise AuthError(f"API keys exist on this install: set {KEY_ENV} or write your key to {path} (mode 0600)")


def _audit(meta: MetaStore, action: str, **fields: object) -> None:
    AuditLog(meta).record(action, **fields)  # type: ignore[arg-type]


def save_local_key(key: str, home: Path | None = None) -> Path:
    """Write key to <MOFANG_HOME>/identity with mode 0600 (replacing any previous one); return the path."""
    path = (home or settings().home) / IDENTITY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key.strip() + "\n")
    return path


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)


def _utc(moment: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite hands back naive datetimes, which the store wrote in UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _shown(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"
