"""Tenant data keys: one AES-256 key per tenant, stored only wrapped by the factory's master key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mofang.core.errors import MofangError
from mofang.security.tables import OrderKey, TenantKey
from mofang.store.models import Tenant, utcnow

if TYPE_CHECKING:
    from mofang.store.meta import MetaStore

KEY_BYTES = 32
MASTER_KEY_ENV = "MOFANG_MASTER_KEY"
MASTER_KEY_FILE = "master.key"
_NONCE_BYTES = 12
_WRAP_AAD_PREFIX = b"mofang-tenant-key:"
_ORDER_WRAP_AAD_PREFIX = b"mofang-order-key:"
_PSEUDONYM_INFO = b"mofang-pseudonym"
UPLOAD_KEY_PREFIX = "upload:"  # an upload's own key sits beside the order keys; order ids are slugs (no ':')


def upload_key_id(upload_id: str) -> str:
    """The id under which an upload's own data key is kept in the order-key table."""
    return f"{UPLOAD_KEY_PREFIX}{upload_id}"


def _owner(key_id: str) -> str:
    """What a key of the order-key table belongs to, as messages name it."""
    if key_id.startswith(UPLOAD_KEY_PREFIX):
        return f"upload '{key_id.removeprefix(UPLOAD_KEY_PREFIX)}'"
    return f"order '{key_id}'"


class SecurityError(MofangError):
    """A key or an encrypted artifact that cannot be used: wrong master key, destroyed key, tampering."""


class MasterKey:
    """The factory's key-encryption key; only its id (a hash prefix) is ever shown or stored."""

    __slots__ = ("id", "key", "source")

    def __init__(self, key: bytes, source: str = "memory") -> None:
        if len(key) != KEY_BYTES:
            raise SecurityError(f"a master key must be {KEY_BYTES} bytes, got {len(key)} (from {source})")
        self.key = bytes(key)
        self.id = hashlib.sha256(self.key).hexdigest()[:16]
        self.source = source

    @classmethod
    def generate(cls) -> MasterKey:
        """A new random master key (for first setup or rotation)."""
        return cls(secrets.token_bytes(KEY_BYTES), source="generated")

    def to_base64(self) -> str:
        """The key as the value MOFANG_MASTER_KEY expects."""
        return base64.b64encode(self.key).decode("ascii")

    def __repr__(self) -> str:
        return f"MasterKey(id={self.id!r}, source={self.source!r})"


def load_master_key(home: Path) -> MasterKey:
    """The master key from $MOFANG_MASTER_KEY (base64 of 32 bytes), else from <home>/master.key.

    The file is created on first use (32 random bytes, mode 0600, in a 0700 home); an existing file
    of the wrong length or readable by group/others is refused.
    """
    value = os.environ.get(MASTER_KEY_ENV)
    if value is not None:
        try:
            key = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SecurityError(f"{MASTER_KEY_ENV} is not valid base64; it must hold base64 of "
                                f"{KEY_BYTES} random bytes") from None
        if len(key) != KEY_BYTES:
            raise SecurityError(f"{MASTER_KEY_ENV} decodes to {len(key)} bytes; it must hold base64 of "
                                f"{KEY_BYTES} random bytes") from None
        return MasterKey(key, source=f"${MASTER_KEY_ENV}")
    path = home / MASTER_KEY_FILE
    if not path.exists():
        return _create_master_key_file(path)
    return _read_master_key_file(path)


def save_master_key(home: Path, master: MasterKey) -> Path:
    """Write master as <home>/master.key (mode 0600), atomically replacing any previous key file."""
    _private_folder(home)
    path = home / MASTER_KEY_FILE
    fd, tmp = tempfile.mkstemp(dir=home, prefix=".master.key.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(master.key)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _private_folder(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)


def _create_master_key_file(path: Path) -> MasterKey:
    _private_folder(path.parent)
    master = MasterKey.generate()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".master.key.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), 0o600)
            fh.write(master.key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # never overwrites: a process that raced us keeps its key
        except FileExistsError:
            return _read_master_key_file(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return MasterKey(master.key, source=str(path))


def _read_master_key_file(path: Path) -> MasterKey:
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise SecurityError(f"master key file {path} is not a regular file")
    if os.name == "posix" and mode & 0o077:
        raise SecurityError(f"master key file {path} is readable by group or others "
                            f"(mode {stat.S_IMODE(mode):04o}); run 'chmod 600 {path}' and check who has read it")
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise SecurityError(f"master key file {path} is damaged ({len(key)} bytes, expected {KEY_BYTES})")
    return MasterKey(key, source=str(path))


class KeyRing:
    """The key hierarchy: master key → per-tenant data keys → per-order data keys (and per-upload keys, kept
    beside them as `upload:<id>`). Keys are created on first use, stored only wrapped by their parent, unwrapped
    on demand and cached in memory. Rotating the master key re-wraps tenant keys only; order and upload keys
    (wrapped by their tenant's key) and all data stay as they are."""

    def __init__(self, meta: MetaStore, master: MasterKey) -> None:
        self.meta = meta
        self.master = master
        self._keys: dict[str, bytes] = {}
        self._order_keys: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    def order_key(self, tenant: str, order: str) -> bytes:
        """The order's 32-byte data key, created (and stored wrapped by the tenant's key) on first use."""
        tenant_key = self.data_key(tenant)
        with self._lock:
            key = self._order_keys.get((tenant, order))
            if key is None:
                key = self._load_or_create_order(tenant, order, tenant_key)
                self._order_keys[(tenant, order)] = key
            return key

    def find_order_key(self, tenant: str, order: str) -> bytes | None:
        """The order's data key if it was ever made (None when not: nothing was encrypted with it); a
        SecurityError when it was destroyed. Never creates one: what readers use."""
        tenant_key = self.data_key(tenant)
        with self._lock:
            key = self._order_keys.get((tenant, order))
            if key is None:
                with self.meta.session() as s:
                    if s.get(OrderKey, (tenant, order)) is None:
                        return None
                key = self._load_or_create_order(tenant, order, tenant_key)
                self._order_keys[(tenant, order)] = key
            return key

    def shred_order(self, tenant: str, order: str) -> bool:
        """Destroy the order's data key for good; False when the order never had one."""
        with self._lock:
            self._order_keys.pop((tenant, order), None)
            with self.meta.session() as s:
                _secure_delete(s)
                row = s.get(OrderKey, (tenant, order), with_for_update=True)
                if row is None:
                    return False
                if row.wrapped_key is not None or row.shredded_at is None:
                    row.wrapped_key = None
                    row.shredded_at = utcnow()
            self._checkpoint()
            return True

    def order_key_state(self, tenant: str, order: str) -> str:
        """'live', 'shredded' or 'none' (never created)."""
        with self.meta.session() as s:
            row = s.get(OrderKey, (tenant, order))
            if row is None:
                return "none"
            return "shredded" if row.wrapped_key is None else "live"

    def data_key(self, tenant: str) -> bytes:
        """The tenant's 32-byte data key, created (and stored wrapped) on first use."""
        with self._lock:
            key = self._keys.get(tenant)
            if key is None:
                key = self._load_or_create(tenant)
                self._keys[tenant] = key
            return key

    def pseudonym_key(self, tenant: str) -> bytes:
        """The tenant's key for keyed pseudonyms, derived from its data key (gone once the key is shredded)."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_PSEUDONYM_INFO)
        return hkdf.derive(self.data_key(tenant))

    def rotate_master(self, new: MasterKey) -> int:
        """Re-wrap every live tenant key under new (the data itself is untouched); return how many.

        Persist the new master key (save_master_key or the environment) before discarding the old one.
        """
        with self._lock:
            count = 0
            with self.meta.session() as s:
                _secure_delete(s)
                rows = s.scalars(select(TenantKey).where(TenantKey.wrapped_key.is_not(None))
                                 .order_by(TenantKey.tenant_id).with_for_update())
                for row in rows:
                    if row.master_key_id == new.id:  # already re-wrapped by an earlier, interrupted rotation
                        continue
                    key = self._unwrap(row)
                    row.wrapped_key = _wrap(new, row.tenant_id, key)
                    row.master_key_id = new.id
                    row.rotated_at = utcnow()
                    count += 1
            self.master = new
            self._checkpoint()
            return count

    def shred(self, tenant: str) -> None:
        """Destroy the tenant's data key for good: everything encrypted with it becomes unreadable."""
        with self._lock:
            self._keys.pop(tenant, None)
            with self.meta.session() as s:
                _secure_delete(s)
                row = s.get(TenantKey, tenant, with_for_update=True)
                if row is None:  # a tombstone, so no new key is ever made for a destroyed tenant
                    _ensure_tenant(s, tenant)
                    s.add(TenantKey(tenant_id=tenant, wrapped_key=None, master_key_id=self.master.id,
                                    shredded_at=utcnow()))
                elif row.wrapped_key is not None or row.shredded_at is None:
                    row.wrapped_key = None
                    row.shredded_at = utcnow()
                for order_row in s.scalars(select(OrderKey).where(OrderKey.tenant_id == tenant,
                                                                  OrderKey.wrapped_key.is_not(None))):
                    order_row.wrapped_key, order_row.shredded_at = None, utcnow()
            self._order_keys = {k: v for k, v in self._order_keys.items() if k[0] != tenant}
            self._checkpoint()

    # -- internals -------------------------------------------------------------------------------
    def _load_or_create_order(self, tenant: str, order: str, tenant_key: bytes) -> bytes:
        aad = _ORDER_WRAP_AAD_PREFIX + f"{tenant}/{order}".encode()
        with self.meta.session() as s:
            row = s.get(OrderKey, (tenant, order))
            if row is None:
                key = secrets.token_bytes(KEY_BYTES)
                nonce = secrets.token_bytes(_NONCE_BYTES)
                s.add(OrderKey(tenant_id=tenant, order_id=order,
                               wrapped_key=nonce + AESGCM(tenant_key).encrypt(nonce, key, aad)))
                try:
                    s.flush()
                    return key
                except IntegrityError:  # another process created it first: use theirs
                    s.rollback()
                    row = s.get(OrderKey, (tenant, order))
                    if row is None:
                        raise
            if row.wrapped_key is None:
                raise SecurityError(f"the key of {_owner(order)} of tenant '{tenant}' was destroyed on "
                                    f"{_when(row.shredded_at)}; its encrypted data can no longer be read")
            blob = bytes(row.wrapped_key)
            try:
                return AESGCM(tenant_key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], aad)
            except (InvalidTag, ValueError):
                raise SecurityError(f"the wrapped key of {_owner(order)} of tenant '{tenant}' does not open "
                                    f"with its tenant's key; the metadata database was modified") from None

    def _load_or_create(self, tenant: str) -> bytes:
        with self.meta.session() as s:
            row = s.get(TenantKey, tenant)
            if row is not None:
                return self._unwrap(row)
        key = secrets.token_bytes(KEY_BYTES)
        try:
            with self.meta.session() as s:
                _ensure_tenant(s, tenant)
                s.add(TenantKey(tenant_id=tenant, wrapped_key=_wrap(self.master, tenant, key),
                                master_key_id=self.master.id))
        except IntegrityError:  # another process created it first: use theirs
            with self.meta.session() as s:
                row = s.get(TenantKey, tenant)
                if row is None:
                    raise
                return self._unwrap(row)
        return key

    def _unwrap(self, row: TenantKey) -> bytes:
        tenant = row.tenant_id
        if row.wrapped_key is None:
            raise SecurityError(f"the key of tenant '{tenant}' was destroyed on {_when(row.shredded_at)}; "
                                f"its encrypted data can no longer be read")
        if row.master_key_id != self.master.id:
            raise SecurityError(f"the key of tenant '{tenant}' is wrapped by master key {row.master_key_id}, "
                                f"but the loaded master key ({self.master.source}) is {self.master.id}; "
                                f"load the right master key")
        blob = bytes(row.wrapped_key)
        try:
            return AESGCM(self.master.key).decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:],
                                                   _WRAP_AAD_PREFIX + tenant.encode())
        except (InvalidTag, ValueError):
            raise SecurityError(f"the wrapped key of tenant '{tenant}' does not open with master key "
                                f"{self.master.id} although it is recorded under it; the metadata database "
                                f"was modified") from None

    def _checkpoint(self) -> None:
        """On SQLite, fold the WAL into the database and empty it, so replaced key bytes leave the files."""
        if self.meta.engine.dialect.name != "sqlite":
            return
        with self.meta.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _wrap(master: MasterKey, tenant: str, key: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(master.key).encrypt(nonce, key, _WRAP_AAD_PREFIX + tenant.encode())


def _ensure_tenant(s: Session, tenant: str) -> None:
    if s.get(Tenant, tenant) is None:
        s.add(Tenant(id=tenant))
        s.flush()


def _secure_delete(s: Session) -> None:
    """On SQLite, overwrite replaced and deleted content with zeros instead of leaving it in free space."""
    if s.get_bind().dialect.name == "sqlite":
        s.connection().exec_driver_sql("PRAGMA secure_delete=ON")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "an unknown date"
