"""The vault: a tenant's files encrypted at rest with its data key, bound to their place in its folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mofang.security.crypto import StreamEncryptor, artifact_context, is_encrypted, read_decrypted, write_encrypted
from mofang.security.keys import KeyRing, load_master_key

if TYPE_CHECKING:
    from mofang.store import MetaStore


class Vault:
    """Reads and writes files under <home>/tenants/<tenant>/ encrypted with a data key — the order's key for
    files of one order (its job folders), else the tenant's (shared dataset versions and product bundles).
    The file's path relative to the tenant folder is authenticated too, so a file moved or copied elsewhere
    (or to another tenant) no longer opens."""

    def __init__(self, keyring: KeyRing, home: Path) -> None:
        self.keyring, self.home = keyring, Path(home)

    def write(self, tenant: str, path: Path, data: bytes, *, order: str | None = None) -> None:
        write_encrypted(self._key(tenant, order), path, data, self._context(tenant, path))

    def seal(self, tenant: str, source: Path, destination: Path, final: Path, *, order: str | None = None) -> None:
        """Encrypt the plaintext file `source` into `destination`, bound to the place `final` it will
        be renamed to."""
        aad = self._context(tenant, final)
        write_encrypted(self._key(tenant, order), destination, Path(source).read_bytes(), aad)

    def encryptor(self, tenant: str, final: Path, *, order: str | None = None) -> StreamEncryptor:
        """A stream encryptor for a file written piece by piece (an upload as it arrives), bound to the place
        `final` it will have once complete."""
        return StreamEncryptor(self._key(tenant, order), self._context(tenant, final))

    def read_any(self, tenant: str, path: Path, *, order: str | None = None) -> bytes:
        """A stored file's plaintext, whether it was written encrypted or (before encryption) plain."""
        return self.read(tenant, path, order=order) if is_encrypted(path) else Path(path).read_bytes()

    def read(self, tenant: str, path: Path, *, order: str | None = None) -> bytes:
        return read_decrypted(self._key(tenant, order), path, self._context(tenant, path))

    def _key(self, tenant: str, order: str | None) -> bytes:
        return self.keyring.order_key(tenant, order) if order else self.keyring.data_key(tenant)

    def _context(self, tenant: str, path: Path) -> bytes:
        root = (self.home / "tenants" / tenant).resolve()
        return artifact_context(tenant, Path(path).resolve().relative_to(root).as_posix())


def open_vault(meta: MetaStore, home: Path) -> Vault:
    """The vault of this installation: the master key from MOFANG_MASTER_KEY or <home>/master.key."""
    return Vault(KeyRing(meta, load_master_key(home)), home)
