"""`mofang tenants|keys|audit|destroy`: the security center's commands (thin views over mofang.security)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mofang.cli.common import allow, err, fail, open_meta, out, role_hint, scoped_view
from mofang.core.errors import MofangError

tenants_app = typer.Typer(help="Tenants (customers) of this factory.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys and the master key.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)



def _allow(action: str, tenant: str | None, what: str | None = None):
    """The CLI's identity, authorized for `action` on `tenant`'s object (raises MofangError)."""
    return allow(open_meta(), action, tenant, what)


def _security(home: Path):
    from mofang.security.audit import AuditLog
    from mofang.security.keys import KeyRing, load_master_key
    from mofang.security.signing import load_factory_key

    meta = open_meta()
    factory = load_factory_key(home)
    return meta, KeyRing(meta, load_master_key(home)), AuditLog(meta, factory), factory


@tenants_app.command("create")
def tenants_create(tenant: Annotated[str, typer.Argument(help="Tenant id (a slug)")]) -> None:
    """Create a tenant (operator)."""
    from mofang.security.identity import create_tenant
    try:
        _allow("tenant.create", None)
        create_tenant(open_meta(), tenant)
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"tenant [bold]{tenant}[/] ready")


@keys_app.command("create")
def keys_create(user: Annotated[str, typer.Option(help="Who the key is for")],
                role: Annotated[str, typer.Option(help="owner, member, viewer or operator")],
                tenant: Annotated[str | None, typer.Option(help="The key's tenant (none for operator)")] = None,
                expires: Annotated[str | None, typer.Option(
                    help="When the key stops working: a span (30d, 12h, 2w) or an ISO date/time, UTC unless it "
                         "names an offset (default: never, until revoked)")] = None,
                save: Annotated[bool, typer.Option(help="Also make it this machine's CLI identity")] = False) -> None:
    """Create an API key; the key is printed once and only its salted hash is stored."""
    from mofang.core.config import settings
    from mofang.security.audit import KEY_CREATED, AuditLog
    from mofang.security.identity import create_api_key, parse_expiry, save_local_key
    try:
        expires_at = parse_expiry(expires) if expires else None
        actor = _allow("keys.create", tenant)
        identity, secret = create_api_key(open_meta(), tenant=tenant, user=user, role=role, expires_at=expires_at)
        AuditLog(open_meta()).record(KEY_CREATED, actor=actor.user, tenant=tenant, object=str(identity.key_id),
                                     details={"user": user, "role": str(role),
                                              "expires_at": expires_at.isoformat() if expires_at else None})
        if save:
            save_local_key(secret, settings().home)
    except MofangError as exc:
        raise fail(exc) from None
    until = f", expires {_when(expires_at)}" if expires_at else ""
    out.print(f"key {identity.key_id} for {user} ({role}{', tenant ' + tenant if tenant else ''}{until}):")
    out.print(secret, soft_wrap=True)
    err.print("[yellow]shown once: store it now; Mofang keeps only a salted hash[/]")


@keys_app.command("use")
def keys_use(key: Annotated[str, typer.Argument(help="An API key (mf_...) to act with from now on")]) -> None:
    """Make a key this machine's CLI key (checked first, then saved to the identity file, mode 0600)."""
    import os

    from mofang.core.config import settings
    from mofang.security.identity import KEY_ENV, authenticate, save_local_key
    try:
        identity = authenticate(open_meta(), key, via="cli")
        path = save_local_key(key, settings().home)
    except MofangError as exc:
        raise fail(exc) from None
    tenant = f", tenant {identity.tenant}" if identity.tenant else ""
    out.print(f"the CLI now acts as {identity.user} ({identity.role}{tenant}), key mf_{identity.key_id}, "
              f"saved to {path}")
    if os.environ.get(KEY_ENV):
        err.print(f"[yellow]${KEY_ENV} is set in this shell and wins over the saved key: unset it to use this one[/]")


@keys_app.command("list")
def keys_list(tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys (operators; an owner "
                                                              "sees its own tenant's)")] = None) -> None:
    """List API keys (never their secrets): who, role, created, expires and whether each still works."""
    from mofang.cli.common import visible_tenant
    from mofang.security.identity import list_api_keys
    try:
        meta = open_meta()
        shown = visible_tenant(meta, tenant)
        _allow("keys.create", shown, what=f"tenant '{shown}'")
        keys = list_api_keys(scoped_view(meta), shown)
    except MofangError as exc:
        raise fail(exc) from None
    table = Table("key", "tenant", "user", "role", "created", "expires", "state")
    for key in keys:
        table.add_row(key["key_id"], key["tenant"] or "-", key["user"], key["role"], _when(key["created_at"]),
                      _when(key["expires_at"]) if key["expires_at"] else "never", key["state"])
    out.print(table)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (mf_<id>_...)")]) -> None:
    """Revoke an API key."""
    from mofang.security.identity import revoke_api_key
    from mofang.security.tables import ApiKey
    try:
        with open_meta().session() as s:
            key = s.get(ApiKey, key_id)
            tenant = key.tenant_id if key is not None else None
        _allow("keys.revoke", tenant, what=f"key {key_id}")
        revoke_api_key(open_meta(), key_id)
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"key {key_id} revoked")


@keys_app.command("rotate-master")
def keys_rotate_master() -> None:
    """Re-wrap every tenant's data key under a new master key (data is not re-encrypted)."""
    from mofang.core.config import settings
    from mofang.security.audit import KEY_ROTATED
    from mofang.security.keys import MasterKey, save_master_key
    home = settings().home
    try:
        actor = _allow("key.rotate", None)
        _, keyring, audit, _ = _security(home)
        old = keyring.master.id
        new = MasterKey.generate()
        count = keyring.rotate_master(new)
        save_master_key(home, new)
        audit.record(KEY_ROTATED, actor=actor.user, object="master key",
                     details={"old_key_id": old, "new_key_id": new.id, "tenant_keys": count})
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"master key {new.id}: {count} tenant keys re-wrapped")


@audit_app.command("verify")
def audit_verify(checkpoint: Annotated[Path | None, typer.Option(help="A checkpoint file from "
                                                                      "`mofang audit checkpoint`")] = None) -> None:
    """Check every link of the audit chain (and that it still holds a saved checkpoint's head)."""
    from mofang.core.config import settings
    try:
        _allow("audit.verify", None)
        _, _, audit, _ = _security(settings().home)
        anchor = json.loads(checkpoint.read_text(encoding="utf-8")) if checkpoint else None
        result = audit.verify(anchor=anchor)
    except (MofangError, OSError, json.JSONDecodeError) as exc:
        raise fail(exc) from None
    if result.ok:
        out.print(f"[green]audit chain intact[/]: {result.events} events, head {result.head_hash[:16]}")
        return
    for problem in result.problems:
        err.print(f"[red]✗[/] {problem}")
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(out_file: Annotated[Path, typer.Argument(help="Where to write the signed head")]) -> None:
    """Write the chain's head, signed by the factory key; keep it outside the database."""
    from mofang.core.config import settings
    try:
        _allow("audit.verify", None)
        _, _, audit, _ = _security(settings().home)
        out_file.write_text(json.dumps(audit.checkpoint(), indent=1), encoding="utf-8")
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"checkpoint written to {out_file}")


@audit_app.command("list")
def audit_list(tenant: Annotated[str | None, typer.Option()] = None,
               action: Annotated[str | None, typer.Option()] = None) -> None:
    """List audit events (an owner sees its tenant's)."""
    from mofang.security.audit import AuditLog
    from mofang.security.authz import Forbidden, authorize
    from mofang.security.identity import local_identity
    try:
        identity = local_identity(open_meta())
        wide = identity.is_operator or identity.bootstrap
        tenant = tenant if wide else (tenant or identity.tenant)
        try:
            authorize(identity, "audit.read", None if wide else tenant, what=f"tenant '{tenant}'")
        except Forbidden as exc:
            raise Forbidden(f"{exc}. {role_hint(identity, 'audit.read')}") from None
        events = AuditLog(open_meta()).events(tenant=tenant, action=action)
    except MofangError as exc:
        raise fail(exc) from None
    table = Table("seq", "at", "actor", "tenant", "action", "object")
    for event in events:
        table.add_row(str(event["seq"]), event["at"][:19], event["actor"], event["tenant"] or "-", event["action"],
                      event["object"])
    out.print(table)


def destroy(target: Annotated[str | None, typer.Argument(help="The order to destroy")] = None,
            tenant: Annotated[str | None, typer.Option(help="The order's tenant")] = None,
            whole_tenant: Annotated[bool, typer.Option(
                "--whole-tenant", help="Destroy the tenant itself: all its orders, models and its key")] = False,
            expired: Annotated[bool, typer.Option(help="Destroy every order past its retention_days")] = False,
            verify: Annotated[Path | None, typer.Option(help="Check a destruction certificate")] = None) -> None:
    """Destroy an order's (or a whole tenant's) data, models and keys, with a signed certificate."""
    from mofang.core.config import settings
    from mofang.security import destroy as destruction
    from mofang.security.certificates import verify_certificate
    from mofang.store import ArtifactStore
    home = settings().home
    try:
        meta, keyring, audit, factory = _security(home)
        if verify is not None:
            doc = json.loads(verify.read_text(encoding="utf-8"))
            problems = verify_certificate(doc, trusted_public_pem=factory.public_pem(), audit=audit)
            if problems:
                for problem in problems:
                    err.print(f"[red]✗[/] {problem}")
                raise typer.Exit(1)
            cert = doc["certificate"]
            out.print(f"[green]certificate valid[/]: {cert['what']} {cert.get('order') or cert['tenant']} "
                          f"destroyed {cert['destroyed_at']} by {cert['destroyed_by']}, {cert['file_count']} files")
            return
        artifacts = ArtifactStore(home)
        if expired:
            plans: list[tuple[str, str | None]] = list(destruction.expired_orders(meta))
        elif whole_tenant:
            if not tenant:
                raise typer.BadParameter("--whole-tenant needs --tenant")
            plans = [(tenant, None)]
        elif target:
            record = scoped_view(meta).order(target, tenant)
            plans = [(record.tenant_id, target)]
        else:
            raise typer.BadParameter("name an ORDER, or use --whole-tenant --tenant T, --expired or --verify CERT")
        for owner, order in plans:
            actor = _allow("tenant.destroy" if order is None else "order.destroy", owner,
                           what=f"order '{order}'" if order else f"tenant '{owner}'")
            plan = (destruction.plan_tenant(artifacts, owner) if order is None
                    else destruction.plan_order(meta, artifacts, owner, order))
            doc = destruction.destroy(plan, meta=meta, home=home, keyring=keyring, audit=audit, factory=factory,
                                      actor=actor.user)
            cert = doc["certificate"]
            out.print(f"destroyed {cert['what']} {order or owner}: {cert['file_count']} files, "
                          f"{len(cert['keys_shredded'])} keys shredded; certificate "
                          f"{home / 'certificates' / (cert['certificate_id'] + '.json')}")
            for kept in plan.kept:
                out.print(f"  kept {kept['path']}: {kept['reason']}")
        if expired and not plans:
            out.print("no order is past its retention")
    except (MofangError, OSError, json.JSONDecodeError) as exc:
        raise fail(exc) from None


def register(app: typer.Typer) -> None:
    """Add `tenants`, `keys`, `audit` and `destroy` to the main CLI."""
    app.add_typer(tenants_app, name="tenants")
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.command("destroy")(destroy)
