"""`mofang whoami`: the identity the CLI acts as — user, tenant, role, key id, expiry — and where its key came
from."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from mofang.cli.common import SWITCH_KEYS, fail, key_source, open_meta, out
from mofang.core.errors import MofangError


def whoami(as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON")] = False) -> None:
    """Show who the CLI acts as: user, tenant, role, key id, when the key expires and where it came from."""
    try:
        shown = describe(open_meta())
    except MofangError as exc:
        raise fail(exc) from None
    if as_json:
        out.print_json(json.dumps(shown, ensure_ascii=False))
        return
    for name in ("user", "tenant", "role", "key", "expires", "source"):
        out.print(f"{name:<8} {shown[name] if shown[name] is not None else '-'}", soft_wrap=True)
    out.print(f"[dim]{SWITCH_KEYS}[/]", soft_wrap=True)


def describe(meta: Any) -> dict[str, Any]:
    """The CLI's identity as whoami shows it (AuthError, with what to do, when its key does not work)."""
    from mofang.security.identity import list_api_keys, local_identity

    identity = local_identity(meta)
    expires = None
    if identity.key_id:
        record = next((k for k in list_api_keys(meta, identity.tenant) if k["key_id"] == identity.key_id), None)
        moment = record["expires_at"] if record else None
        expires = f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "never (until revoked)"
    return {"user": identity.user, "tenant": identity.tenant, "role": str(identity.role),
            "key": f"mf_{identity.key_id}" if identity.key_id else None, "expires": expires,
            "source": key_source(), "bootstrap": identity.bootstrap}
