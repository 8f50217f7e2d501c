"""Authorization: which roles may take which action, and the tenant boundary that hides other tenants' objects."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import TYPE_CHECKING

from mofang.core.errors import MofangError, NotFoundError
from mofang.security import identity as identities
from mofang.security.audit import ACCESS_DENIED, AuditLog
from mofang.security.identity import AuthError, Identity, Role

if TYPE_CHECKING:
    from mofang.store import MetaStore


REVERIFY_S = 30.0  # a served endpoint checks a remembered API key again after this long (revocation delay)
MAX_VERIFIED = 10_000  # remembered keys per served product at most


class Forbidden(MofangError):
    """The identity is known but its role may not take this action: a 403."""


_TENANT_READ = frozenset({Role.OWNER, Role.MEMBER, Role.VIEWER})
_TENANT_WRITE = frozenset({Role.OWNER, Role.MEMBER})

#: action -> roles allowed to take it. The operator appears only in factory actions: an operator
#: can destroy, key and audit any tenant, but never reads or runs a tenant's orders and products.
ACTIONS: MappingProxyType[str, frozenset[Role]] = MappingProxyType({
    "order.submit": _TENANT_WRITE,
    "order.read": _TENANT_READ,
    "order.destroy": frozenset({Role.OWNER, Role.OPERATOR}),
    "job.read": _TENANT_READ,
    "job.resume": _TENANT_WRITE,
    "product.read": _TENANT_READ,
    "product.serve": _TENANT_READ,
    "product.predict": _TENANT_READ,
    "product.destroy": frozenset({Role.OWNER, Role.OPERATOR}),
    "product.promote": _TENANT_WRITE,  # move an alias (champion, challenger) or roll back
    "product.improve": _TENANT_WRITE,  # retrain on feedback
    "product.publish": frozenset({Role.OWNER}),  # share a model with every tenant through the marketplace
    "market.read": frozenset({Role.OWNER, Role.MEMBER, Role.VIEWER, Role.OPERATOR}),  # the public catalog
    "tenant.create": frozenset({Role.OPERATOR}),
    "tenant.destroy": frozenset({Role.OPERATOR}),
    "keys.create": frozenset({Role.OWNER, Role.OPERATOR}),
    "keys.revoke": frozenset({Role.OWNER, Role.OPERATOR}),
    "audit.read": frozenset({Role.OWNER, Role.OPERATOR}),
    "audit.verify": frozenset({Role.OPERATOR}),
    "key.rotate": frozenset({Role.OPERATOR}),
    "devices.read": frozenset({Role.OPERATOR}),  # factory-wide hardware, no tenant object: operators only
})


def authorize(identity: Identity, action: str, tenant: str | None, *, what: str | None = None) -> None:
    """Allow identity to take action on an object of tenant (None: a factory-wide object), or raise.

    Forbidden when the role may not take the action (decided before looking at the object, so it says
    nothing about it). NotFoundError when a tenant identity reaches for another tenant's object, worded
    like a missing one ("no " + what, e.g. what="order 'o1'") so existence does not leak. The bootstrap
    local operator of a fresh install (no API key yet) may do everything.
    """
    allowed = ACTIONS.get(action)
    if allowed is None:
        raise ValueError(f"unknown action '{action}' (known: {', '.join(sorted(ACTIONS))})")
    if identity.bootstrap:
        return
    if identity.role not in allowed:
        raise Forbidden(f"{identity.user} ({identity.role}) may not {action}")
    if identity.is_operator:
        return
    if tenant is None:
        raise Forbidden(f"{identity.user} ({identity.role}) may not {action} outside tenant '{identity.tenant}'")
    if tenant != identity.tenant:
        raise NotFoundError(f"no {what}" if what else f"no such {action.split('.')[0]}")


def can(identity: Identity, action: str, tenant: str | None) -> bool:
    """Whether authorize() would let identity take action on tenant's object."""
    try:
        authorize(identity, action, tenant)
    except (Forbidden, NotFoundError):
        return False
    return True


def product_guard(meta: MetaStore, tenant: str, *, reverify_s: float = REVERIFY_S,
                  clock: Callable[[], float] = time.monotonic) -> Callable[[str | None], Identity]:
    """The served endpoint's check of an API key: authenticated, and allowed to call `tenant`'s product.

    A key's scrypt check costs tens of milliseconds — more than a prediction — so a verified key is
    remembered (by its SHA-256, never the key itself) for `reverify_s` seconds: a key revoked while a server
    runs is refused from its next check at the latest that long after."""
    seen: set[bytes] = set()  # keys whose login this server has recorded (once each, not per request)
    verified: dict[bytes, tuple[Identity, float]] = {}

    def check(key: str | None) -> Identity:
        if not key:
            raise AuthError("an API key is required: send 'Authorization: Bearer mf_...' or 'X-API-Key'")
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        hit = verified.get(digest)
        if hit is not None and clock() - hit[1] < reverify_s:
            return hit[0]  # authorized when it was verified; the policy does not change while serving
        identity = identities.authenticate(meta, key, via=None if digest in seen else "serve")
        try:
            authorize(identity, "product.predict", tenant, what="product")
        except (Forbidden, NotFoundError):
            AuditLog(meta).record(ACCESS_DENIED, actor=identity.user, tenant=identity.tenant,
                                  object="product.predict", details={"via": "serve"})
            raise
        seen.add(digest)
        if len(verified) >= MAX_VERIFIED:
            verified.clear()
        verified[digest] = (identity, clock())
        return identity

    def remembered(key: str) -> Identity | None:
        """The identity of a key verified less than `reverify_s` ago, else None (then call the guard): cheap
        enough for the event loop."""
        hit = verified.get(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest())
        return hit[0] if hit is not None and clock() - hit[1] < reverify_s else None

    check.remembered = remembered  # type: ignore[attr-defined]
    return check
