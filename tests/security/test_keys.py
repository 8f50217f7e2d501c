"""Tests for mofang.security.keys: master key loading, wrapped tenant keys, rotation and shredding."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import event, select

from mofang.security.crypto import artifact_context, decrypt_bytes, encrypt_bytes
from mofang.security.keys import (
    MASTER_KEY_ENV,
    KeyRing,
    MasterKey,
    SecurityError,
    load_master_key,
    save_master_key,
)
from mofang.security.tables import TenantKey
from mofang.store import MetaStore
from mofang.store.models import Tenant

CTX = artifact_context("acme", "orders/o1/model.bin")


@pytest.fixture(autouse=True)
def _no_env_master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MASTER_KEY_ENV, raising=False)


def _db_bytes(home: Path) -> bytes:
    """Everything SQLite keeps on disk for the metadata store (database, WAL, journal)."""
    return b"".join(p.read_bytes() for p in sorted(home.glob("mofang.db*")))


def _row(meta: MetaStore, tenant: str) -> TenantKey:
    with meta.session() as s:
        row = s.get(TenantKey, tenant)
        assert row is not None
        return row


# -- master key ----------------------------------------------------------------------------------
def test_master_key_file_is_created_private_and_reused(home: Path) -> None:
    master = load_master_key(home)
    path = home / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert path.read_bytes() == master.key and len(master.key) == 32
    assert master.id == hashlib.sha256(master.key).hexdigest()[:16]
    assert load_master_key(home).key == master.key
    assert master.key.hex() not in repr(master) and master.id in repr(master)
    assert sorted(p.name for p in home.iterdir()) == ["master.key"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_master_key_file_readable_by_others_is_refused(home: Path, mode: int) -> None:
    master = load_master_key(home)
    os.chmod(home / "master.key", mode)
    with pytest.raises(SecurityError, match="readable by group or others") as info:
        load_master_key(home)
    assert master.key.hex() not in str(info.value)


def test_master_key_file_of_wrong_length_is_refused(home: Path) -> None:
    home.mkdir(parents=True)
    path = home / "master.key"
    path.write_bytes(b"x" * 31)
    os.chmod(path, 0o600)
    with pytest.raises(SecurityError, match="31 bytes, expected 32"):
        load_master_key(home)


def test_master_key_from_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = bytes(range(100, 132))
    monkeypatch.setenv(MASTER_KEY_ENV, base64.b64encode(raw).decode())
    master = load_master_key(home)
    assert master.key == raw and master.id == hashlib.sha256(raw).hexdigest()[:16]
    assert not (home / "master.key").exists()


@pytest.mark.parametrize("value, reason", [("not*base64!", "not valid base64"),
                                           (base64.b64encode(b"k" * 16).decode(), "decodes to 16 bytes")])
def test_malformed_environment_key_is_refused(home: Path, monkeypatch: pytest.MonkeyPatch, value: str,
                                              reason: str) -> None:
    monkeypatch.setenv(MASTER_KEY_ENV, value)
    with pytest.raises(SecurityError, match=reason) as info:
        load_master_key(home)
    assert value not in str(info.value)


def test_saved_master_key_loads_back(home: Path) -> None:
    new = MasterKey.generate()
    path = save_master_key(home, new)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_master_key(home).id == new.id
    assert MasterKey(base64.b64decode(new.to_base64())).id == new.id


# -- tenant data keys ----------------------------------------------------------------------------
def test_data_key_is_created_once_and_persisted(home: Path, meta: MetaStore) -> None:
    master = load_master_key(home)
    ring = KeyRing(meta, master)
    key = ring.data_key("acme")
    assert len(key) == 32
    assert ring.data_key("acme") == key
    assert KeyRing(meta, master).data_key("acme") == key  # read back, unwrapped, by a fresh ring
    assert ring.data_key("globex") != key
    with meta.session() as s:
        assert s.get(Tenant, "acme") is not None
    row = _row(meta, "acme")
    assert row.master_key_id == master.id and row.wrapped_key is not None


def test_database_holds_only_the_wrapped_key(home: Path, meta: MetaStore) -> None:
    ring = KeyRing(meta, load_master_key(home))
    key = ring.data_key("acme")
    wrapped = _row(meta, "acme").wrapped_key
    assert wrapped is not None and len(wrapped) == 12 + 32 + 16
    on_disk = _db_bytes(home)
    assert wrapped in on_disk  # the search does see the key column ...
    assert key not in on_disk  # ... and the raw key is not there


def test_wrong_master_key_names_both_ids(home: Path, meta: MetaStore) -> None:
    right = load_master_key(home)
    KeyRing(meta, right).data_key("acme")
    wrong = MasterKey.generate()
    with pytest.raises(SecurityError) as info:
        KeyRing(meta, wrong).data_key("acme")
    message = str(info.value)
    assert right.id in message and wrong.id in message and "acme" in message
    assert wrong.key.hex() not in message and right.key.hex() not in message


def test_wrapped_key_moved_to_another_tenant_is_refused(home: Path, meta: MetaStore) -> None:
    master = load_master_key(home)
    ring = KeyRing(meta, master)
    ring.data_key("acme")
    ring.data_key("globex")
    with meta.session() as s:
        acme, globex = s.get(TenantKey, "acme"), s.get(TenantKey, "globex")
        assert acme is not None and globex is not None
        globex.wrapped_key = acme.wrapped_key
    with pytest.raises(SecurityError, match="'globex' does not open"):
        KeyRing(meta, master).data_key("globex")


def test_pseudonym_key_is_deterministic_per_tenant(home: Path, meta: MetaStore) -> None:
    master = load_master_key(home)
    ring = KeyRing(meta, master)
    acme = ring.pseudonym_key("acme")
    assert len(acme) == 32
    assert KeyRing(meta, master).pseudonym_key("acme") == acme
    assert ring.pseudonym_key("globex") != acme
    assert acme != ring.data_key("acme")


# -- rotation ------------------------------------------------------------------------------------
def test_rotation_rewraps_and_old_data_still_decrypts(home: Path, insecure_sqlite: MetaStore) -> None:
    meta = insecure_sqlite
    old = load_master_key(home)
    ring = KeyRing(meta, old)
    keys = {t: ring.data_key(t) for t in ("acme", "globex")}
    ring.data_key("initech")
    ring.shred("initech")
    blob = encrypt_bytes(keys["acme"], b"model weights", CTX)
    old_wrapped = _row(meta, "acme").wrapped_key
    pseudonym = ring.pseudonym_key("acme")

    new = MasterKey.generate()
    assert ring.rotate_master(new) == 2  # the shredded tenant is not counted
    for tenant in ("acme", "globex"):
        row = _row(meta, tenant)
        assert row.master_key_id == new.id and row.rotated_at is not None
    assert _row(meta, "initech").wrapped_key is None

    fresh = KeyRing(meta, new)
    assert {t: fresh.data_key(t) for t in keys} == keys
    assert decrypt_bytes(fresh.data_key("acme"), blob, CTX) == b"model weights"
    assert fresh.pseudonym_key("acme") == pseudonym
    assert ring.data_key("newco") and _row(meta, "newco").master_key_id == new.id  # new keys use the new master
    with pytest.raises(SecurityError, match=f"wrapped by master key {new.id}"):
        KeyRing(meta, old).data_key("acme")
    assert old_wrapped is not None and old_wrapped not in _db_bytes(home)


def test_rotation_again_with_the_same_key_changes_nothing(home: Path, meta: MetaStore) -> None:
    ring = KeyRing(meta, load_master_key(home))
    ring.data_key("acme")
    new = MasterKey.generate()
    assert ring.rotate_master(new) == 1
    assert ring.rotate_master(new) == 0


# -- shredding -----------------------------------------------------------------------------------
@pytest.fixture()
def insecure_sqlite(meta: MetaStore) -> MetaStore:
    """The metadata store as on SQLite builds that leave deleted bytes in free space (secure_delete off)."""
    event.listen(meta.engine, "connect", lambda conn, _record: conn.execute("PRAGMA secure_delete=OFF"))
    meta.engine.dispose()
    return meta


def test_shredding_destroys_the_key(home: Path, insecure_sqlite: MetaStore) -> None:
    meta = insecure_sqlite
    master = load_master_key(home)
    ring = KeyRing(meta, master)
    key = ring.data_key("acme")
    ring.data_key("globex")
    wrapped = _row(meta, "acme").wrapped_key
    assert wrapped is not None and wrapped in _db_bytes(home)

    ring.shred("acme")
    row = _row(meta, "acme")
    assert row.wrapped_key is None and row.shredded_at is not None
    for r in (ring, KeyRing(meta, master)):  # the cache is dropped too
        with pytest.raises(SecurityError, match=r"the key of tenant 'acme' was destroyed on \d{4}-\d\d-\d\d"):
            r.data_key("acme")
        with pytest.raises(SecurityError, match="destroyed"):
            r.pseudonym_key("acme")
    on_disk = _db_bytes(home)
    assert wrapped not in on_disk and key not in on_disk
    assert ring.data_key("globex")  # other tenants are untouched


def test_shredding_twice_keeps_the_first_date(home: Path, meta: MetaStore) -> None:
    ring = KeyRing(meta, load_master_key(home))
    ring.data_key("acme")
    ring.shred("acme")
    first = _row(meta, "acme").shredded_at
    ring.shred("acme")
    assert _row(meta, "acme").shredded_at == first


def test_shredding_a_tenant_without_key_blocks_new_keys(home: Path, meta: MetaStore) -> None:
    ring = KeyRing(meta, load_master_key(home))
    ring.shred("ghost")
    with pytest.raises(SecurityError, match="destroyed"):
        ring.data_key("ghost")
    with meta.session() as s:
        assert s.scalar(select(Tenant).where(Tenant.id == "ghost")) is not None


# -- PostgreSQL ----------------------------------------------------------------------------------
def test_keyring_on_postgresql(home: Path) -> None:
    from tests.conftest import postgres_url

    meta = MetaStore(postgres_url(fresh_schema=True))
    try:
        old = MasterKey.generate()
        ring = KeyRing(meta, old)
        key = ring.data_key("acme")
        blob = encrypt_bytes(key, b"rows", CTX)
        new = MasterKey.generate()
        assert ring.rotate_master(new) == 1
        assert decrypt_bytes(KeyRing(meta, new).data_key("acme"), blob, CTX) == b"rows"
        ring.shred("acme")
        with pytest.raises(SecurityError, match="destroyed"):
            KeyRing(meta, new).data_key("acme")
    finally:
        meta.dispose()
