"""What every command group of the CLI shares: the consoles, the error exit, the caller's identity and views."""

from __future__ import annotations

import typer
from rich.markup import escape

from mofang.core.errors import NotFoundError
from mofang.core.terminal import console

# Piped output (scripts, CI logs) is never hard-wrapped: see mofang.core.terminal.
out = console()
err = console(stderr=True)

EXIT_REJECTED = 3  # the acceptance gate refused the product


def fail(exc: Exception, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(str(exc))}")  # a name like `a[/]b.docx` is text, not markup
    return typer.Exit(code)


def open_meta():
    from mofang.store import MetaStore

    return MetaStore()


def allow(meta, action: str, tenant: str | None, what: str | None = None):
    """The CLI's identity (MOFANG_API_KEY, the identity file, or the bootstrap operator of a fresh install),
    authorized for `action` on an object of `tenant`; another tenant's object reads as not found."""
    from mofang.security.audit import ACCESS_DENIED, AuditLog
    from mofang.security.authz import Forbidden, authorize
    from mofang.security.identity import local_identity

    identity = local_identity(meta)
    try:
        authorize(identity, action, tenant, what=what)
    except (Forbidden, NotFoundError) as exc:  # the caller's own tenant only: the target's existence stays unsaid
        AuditLog(meta).record(ACCESS_DENIED, actor=identity.user, tenant=identity.tenant, object=action,
                              details={"via": "cli", "asked_for": what or ""})
        if isinstance(exc, Forbidden):
            raise Forbidden(f"{exc}. {role_hint(identity, action)}") from None
        raise
    return identity


SWITCH_KEYS = ("to act with another key: `export MOFANG_API_KEY=mf_...` (this shell only) or `mofang keys use "
               "mf_...` (saves it as this machine's CLI key); `mofang whoami` shows the key in use")
ROLE_ORDER = ("owner", "member", "viewer", "operator")


def key_source() -> str:
    """Where the CLI's key comes from: $MOFANG_API_KEY, the saved identity file, or none (a fresh install's
    bootstrap operator)."""
    import os

    from mofang.core.config import settings
    from mofang.security.identity import IDENTITY_FILE, KEY_ENV

    if os.environ.get(KEY_ENV):
        return f"${KEY_ENV}"
    path = settings().home / IDENTITY_FILE
    return str(path) if path.exists() else "no key (the bootstrap operator of an install without API keys)"


def role_hint(identity, action: str, roles: tuple[str, ...] | None = None) -> str:
    """What a refused command needs and how to get it: the roles that may take `action` (of a tenant, unless
    only operators may), the key in use and where it came from, and how to switch keys."""
    from mofang.security.authz import ACTIONS

    allowed = roles or tuple(r for r in ROLE_ORDER if r in {str(role) for role in ACTIONS.get(action, ())})
    tenant_roles = [r for r in allowed if r != "operator"]
    needs = [(", ".join(tenant_roles[:-1]) + " or " if len(tenant_roles) > 1 else "") + tenant_roles[-1]
             + " of the tenant that owns it"] if tenant_roles else []
    needs += ["operator"] if "operator" in allowed else []
    key = f"key mf_{identity.key_id}" if identity.key_id else "no key"
    return (f"This command needs a key with role {' or '.join(needs)}; the CLI is using {identity.user}'s "
            f"{identity.role} {key} from {key_source()}; {SWITCH_KEYS}")


def product_version(meta, ref: str, tenant: str | None, action: str):
    """The product version `ref` names (PRODUCT — its champion, else its latest —, PRODUCT@VERSION or
    PRODUCT@ALIAS), found among what the caller may see and authorized for `action`; returns
    (name, version, identity)."""
    from mofang.products.registry import parse_ref, resolve

    name = parse_ref(ref).name
    version = resolve(scoped_view(meta), ref, visible_tenant(meta, tenant))
    identity = allow(meta, action, version.product.tenant_id, what=f"product '{name}'")
    return name, version, identity


def scoped_view(meta):
    """The metadata store as the CLI's identity may see it: lookups are tenant-scoped at the chokepoint, so
    a forgotten filter still cannot show another tenant's rows."""
    from mofang.security.identity import local_identity
    from mofang.security.scope import TenantScope

    return meta.scoped(TenantScope.of(local_identity(meta)))


def visible_tenant(meta, tenant: str | None) -> str | None:
    """The tenant a listing may show: a tenant identity sees only its own."""
    from mofang.security.identity import local_identity

    identity = local_identity(meta)
    if identity.is_operator or identity.bootstrap:
        return tenant
    if tenant not in (None, identity.tenant):
        raise NotFoundError(f"no tenant '{tenant}'")
    return identity.tenant
