"""The vault: a tenant's files encrypted at rest with a data key, bound to their place in its folder.

Which key opens a file follows from its place under <home>/tenants/<tenant>/, so readers need not know it:

- `artifacts/<kind>/orders/<order>/...` (dataset versions, bundles, marketplace copies of one order): the order's
  key, whatever the caller passes;
- `uploads/<upload id>/...`: the upload's own key (`upload:<id>`), or the tenant's for an upload that an earlier
  release encrypted before uploads had keys of their own;
- anything else: the order's key when the caller names the order (a job's folder), else the tenant's (the
  content-addressed `artifacts/<kind>/<xx>/<digest>` that earlier releases wrote, still read as they were).

The place is authenticated too (it is in every chunk's AAD), so a file moved or copied elsewhere (another order's
folder, another tenant) no longer opens, and a copy cannot escape its order's key by changing its path.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mofang.security.crypto import StreamEncryptor, artifact_context, is_encrypted, read_decrypted, write_encrypted
from mofang.security.keys import KeyRing, SecurityError, load_master_key, upload_key_id
from mofang.store.artifacts import ORDER_SCOPE

if TYPE_CHECKING:
    from mofang.store import MetaStore


def key_owner(relative: Path) -> tuple[str, str] | None:
    """("order", id) or ("upload", id) when a path relative to a tenant's folder lies in a place whose files are
    encrypted with that order's or upload's key; None elsewhere."""
    parts = relative.parts
    if len(parts) >= 5 and parts[0] == "artifacts" and parts[2] == ORDER_SCOPE:
        return "order", parts[3]
    if len(parts) >= 3 and parts[0] == "uploads":
        return "upload", parts[1]
    return None


class Vault:
    """Reads and writes files under <home>/tenants/<tenant>/ encrypted with a data key: an order's for every file
    derived from that order (its job folders, dataset versions, bundles, marketplace copies), an upload's own for
    an upload; the tenant's only for what earlier releases wrote under it. The file's path relative to the tenant
    folder is authenticated too, so a file moved or copied elsewhere (or to another tenant) no longer opens."""

    def __init__(self, keyring: KeyRing, home: Path) -> None:
        self.keyring, self.home = keyring, Path(home)

    def write(self, tenant: str, path: Path, data: bytes, *, order: str | None = None) -> None:
        write_encrypted(self._key(tenant, path, order, create=True), path, data, self._context(tenant, path))

    def seal(self, tenant: str, source: Path, destination: Path, final: Path, *, order: str | None = None) -> None:
        """Encrypt the plaintext file `source` into `destination`, bound to the place `final` it will
        be renamed to."""
        aad = self._context(tenant, final)
        write_encrypted(self._key(tenant, final, order, create=True), destination, Path(source).read_bytes(), aad)

    def encryptor(self, tenant: str, final: Path, *, order: str | None = None) -> StreamEncryptor:
        """A stream encryptor for a file written piece by piece (an upload as it arrives), bound to the place
        `final` it will have once complete."""
        return StreamEncryptor(self._key(tenant, final, order, create=True), self._context(tenant, final))

    def read_any(self, tenant: str, path: Path, *, order: str | None = None) -> bytes:
        """A stored file's plaintext, whether it was written encrypted or (before encryption) plain."""
        return self.read(tenant, path, order=order) if is_encrypted(path) else Path(path).read_bytes()

    def read(self, tenant: str, path: Path, *, order: str | None = None) -> bytes:
        return read_decrypted(self._key(tenant, path, order, create=False), path, self._context(tenant, path))

    def has_own_key(self, tenant: str, path: Path) -> bool:
        """Whether the file's place has a key of its own that exists: False for an upload (or anything outside an
        order's or upload's place) that is encrypted with the tenant's key."""
        owner = key_owner(self._relative(tenant, path))
        if owner is None:
            return False
        key_id = owner[1] if owner[0] == "order" else upload_key_id(owner[1])
        return self.keyring.find_order_key(tenant, key_id) is not None

    def _key(self, tenant: str, path: Path, order: str | None, *, create: bool) -> bytes:
        owner = key_owner(self._relative(tenant, path))
        if owner is not None and owner[0] == "order":
            if order is not None and order != owner[1]:
                raise SecurityError(f"{Path(path).name} lies in the artifacts of order '{owner[1]}', not of "
                                    f"order '{order}'")
            if create:
                return self.keyring.order_key(tenant, owner[1])
            key = self.keyring.find_order_key(tenant, owner[1])
            if key is None:
                raise SecurityError(f"order '{owner[1]}' of tenant '{tenant}' never had a key, so "
                                    f"{Path(path).name} was not encrypted here by Mofang")
            return key
        if owner is not None:  # an upload: its own key, or the tenant's for one an earlier release stored
            key_id = upload_key_id(owner[1])
            found = self.keyring.order_key(tenant, key_id) if create else self.keyring.find_order_key(tenant, key_id)
            return found if found is not None else self.keyring.data_key(tenant)
        return self.keyring.order_key(tenant, order) if order else self.keyring.data_key(tenant)

    def _relative(self, tenant: str, path: Path) -> Path:
        root = (self.home / "tenants" / tenant).resolve()
        return Path(path).resolve().relative_to(root)

    def _context(self, tenant: str, path: Path) -> bytes:
        return artifact_context(tenant, self._relative(tenant, path).as_posix())


def open_vault(meta: MetaStore, home: Path) -> Vault:
    """The vault of this installation: the master key from MOFANG_MASTER_KEY or <home>/master.key."""
    return Vault(KeyRing(meta, load_master_key(home)), home)
