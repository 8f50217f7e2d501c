"""API keys (shown once, stored hashed), authentication and the CLI's local identity."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select

from mofang.core.errors import MofangError, NotFoundError
from mofang.security.identity import (
    KEY_ENV,
    AuthError,
    Identity,
    Role,
    authenticate,
    create_api_key,
    create_tenant,
    local_identity,
    revoke_api_key,
    save_local_key,
)
from mofang.security.tables import ApiKey
from mofang.store import MetaStore


@pytest.fixture()
def acme(meta: MetaStore) -> MetaStore:
    create_tenant(meta, "acme")
    return meta


def _secret(key: str) -> str:
    return key.split("_", 2)[2]


def test_key_is_returned_once_and_the_store_keeps_only_a_salted_hash(acme: MetaStore, home: Path) -> None:
    identity, key = create_api_key(acme, tenant="acme", user="ann", role="member")
    _, other = create_api_key(acme, tenant="acme", user="bob", role="member")
    assert key.startswith(f"mf_{identity.key_id}_") and len(identity.key_id) == 12
    assert authenticate(acme, key) == Identity(user="ann", tenant="acme", role=Role.MEMBER, key_id=identity.key_id)
    with acme.session() as s:
        rows = {r.user: r for r in s.scalars(select(ApiKey))}
    assert rows["ann"].salt != rows["bob"].salt and rows["ann"].key_hash != rows["bob"].key_hash
    acme.dispose()  # flush SQLite's write-ahead log too; every database file is searched below
    db_files = [p for p in home.rglob("*") if p.is_file()]
    assert db_files
    for path in db_files:
        data = path.read_bytes()
        for secret in (_secret(key), _secret(other)):
            assert secret.encode() not in data, path


def test_wrong_unknown_and_malformed_keys_are_refused_without_echoing_them(acme: MetaStore) -> None:
    identity, key = create_api_key(acme, tenant="acme", user="ann", role="viewer")
    secret = _secret(key)
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    unknown = f"mf_{'0' * 12}_{secret}"
    malformed = [key + "x", f"Bearer {key}", secret, f"mf_{identity.key_id}", "mf_XYZ_" + secret, "",
                 key.replace("mf_", "mk_")]
    for presented in [wrong, unknown, *malformed]:
        with pytest.raises(AuthError) as caught:
            authenticate(acme, presented)
        assert secret not in str(caught.value) and secret[:-1] not in str(caught.value)
    assert authenticate(acme, f"  {key}\n").key_id == identity.key_id  # pasted with whitespace


def test_revoked_key_is_refused(acme: MetaStore) -> None:
    identity, key = create_api_key(acme, tenant="acme", user="ann", role="owner")
    revoke_api_key(acme, identity.key_id)
    with acme.session() as s:
        first = s.get(ApiKey, identity.key_id).revoked_at
    revoke_api_key(acme, identity.key_id)
    with acme.session() as s:
        assert s.get(ApiKey, identity.key_id).revoked_at == first is not None
    with pytest.raises(AuthError, match="revoked") as caught:
        authenticate(acme, key)
    assert _secret(key) not in str(caught.value)
    with pytest.raises(NotFoundError):
        revoke_api_key(acme, "0" * 12)


def test_operator_keys_have_no_tenant(acme: MetaStore) -> None:
    identity, key = create_api_key(acme, tenant=None, user="ops", role="operator")
    assert authenticate(acme, key) == identity and identity.is_operator
    with pytest.raises(MofangError, match="an operator key has no tenant"):
        create_api_key(acme, tenant="acme", user="ops", role="operator")
    with pytest.raises(MofangError, match="owner keys belong to a tenant: name it"):
        create_api_key(acme, tenant=None, user="ann", role="owner")
    with pytest.raises(MofangError, match="unknown role 'admin' \\(expected: owner, member, viewer, operator\\)"):
        create_api_key(acme, tenant="acme", user="ann", role="admin")
    with pytest.raises(NotFoundError, match="no tenant 'nobody'"):
        create_api_key(acme, tenant="nobody", user="ann", role="owner")


def test_create_tenant_is_idempotent_and_validates_the_name(meta: MetaStore) -> None:
    create_tenant(meta, "acme")
    create_tenant(meta, "acme")
    create_api_key(meta, tenant="acme", user="ann", role="owner")
    for bad in ["", "../x", "a/b", "-x", "x" * 65, "a b"]:
        with pytest.raises(MofangError, match="invalid tenant name"):
            create_tenant(meta, bad)


def test_local_identity_bootstraps_only_before_the_first_key(meta: MetaStore, home: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    boot = local_identity(meta)
    assert boot.bootstrap and boot.is_operator and boot.key_id is None
    create_tenant(meta, "acme")
    identity, key = create_api_key(meta, tenant="acme", user="ann", role="owner")
    revoke_api_key(meta, identity.key_id)  # even a revoked key ends bootstrap
    with pytest.raises(AuthError, match=KEY_ENV):
        local_identity(meta)
    identity, key = create_api_key(meta, tenant="acme", user="ann", role="owner")
    monkeypatch.setenv(KEY_ENV, key)
    assert local_identity(meta) == identity
    monkeypatch.setenv(KEY_ENV, key[:-2] + "zz")
    with pytest.raises(AuthError):
        local_identity(meta)


def test_local_identity_reads_a_private_identity_file(meta: MetaStore, home: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    create_tenant(meta, "acme")
    identity, key = create_api_key(meta, tenant="acme", user="ann", role="viewer")
    path = save_local_key(key)
    assert path == home.resolve() / "identity" and path.stat().st_mode & 0o777 == 0o600
    assert local_identity(meta) == identity
    os.chmod(path, 0o644)
    with pytest.raises(AuthError, match="chmod 600") as caught:
        local_identity(meta)
    assert _secret(key) not in str(caught.value)


def test_a_served_guard_remembers_a_verified_key_until_it_must_check_again(acme: MetaStore, monkeypatch) -> None:
    from mofang.security import identity as identities
    from mofang.security.authz import product_guard

    _, key = create_api_key(acme, tenant="acme", user="app", role="member")
    identity_of_key, revoked = create_api_key(acme, tenant="acme", user="leaver", role="member")
    calls: list[str] = []
    real = identities.authenticate
    monkeypatch.setattr(identities, "authenticate", lambda meta, k, via=None: calls.append(k) or real(meta, k, via=via))
    now = [100.0]
    guard = product_guard(acme, "acme", reverify_s=30.0, clock=lambda: now[0])
    assert guard(key).user == "app" and guard(key).user == "app" and len(calls) == 1  # one scrypt, then remembered
    guard(revoked)
    revoke_api_key(acme, identity_of_key.key_id)
    now[0] += 29.0
    assert guard(revoked).user == "leaver"  # within the re-verify window
    now[0] += 2.0
    with pytest.raises(MofangError):
        guard(revoked)  # checked again: revoked
    assert guard(key).user == "app" and len(calls) == 4
    with pytest.raises(MofangError, match="an API key is required"):
        guard(None)
