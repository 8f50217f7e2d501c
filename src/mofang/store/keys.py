"""Per-tenant secret keys (for keyed pseudonyms): created once, readable only by the factory's user."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_BYTES = 32


def tenant_key(home: Path, tenant: str) -> bytes:
    """The tenant's 256-bit key under <home>/keys/<tenant>.key, created on first use (mode 0600).

    The same key gives the same pseudonyms across orders and tables, so joins on pseudonymized columns
    still work; a different tenant's key gives unrelated ones.
    """
    folder = home / "keys"
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    path = folder / f"{tenant}.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(f"tenant key file {path} is damaged ({len(key)} bytes, expected {KEY_BYTES})") from None
        return key
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key
