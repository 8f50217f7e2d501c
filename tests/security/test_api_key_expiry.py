"""API keys that expire: `--expires 30d` or an ISO date, stored with the key (an older database gains the column
when opened), refused past it with a 401 that says when, the refusal audited under the key's owner, and the
listing showing each key's expiry and state."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from typer.testing import CliRunner

from mofang.cli import app
from mofang.core.errors import MofangError
from mofang.devices.api import operator_guard
from mofang.security.audit import LOGIN_FAILED, AuditLog
from mofang.security.authz import product_guard
from mofang.security.identity import (
    AuthError,
    KeyExpired,
    authenticate,
    create_api_key,
    create_tenant,
    key_is_live,
    list_api_keys,
    parse_expiry,
    revoke_api_key,
)
from mofang.security.tables import ApiKey
from mofang.store import MetaStore
from tests.conftest import postgres_url

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


@pytest.fixture()
def acme(meta: MetaStore) -> MetaStore:
    create_tenant(meta, "acme")
    return meta


def expire(meta: MetaStore, key_id: str, ago: timedelta = timedelta(minutes=1)) -> datetime:
    """Move a key's expiry into the past (as if time had passed); returns it."""
    moment = datetime.now(UTC) - ago
    with meta.session() as s:
        s.get(ApiKey, key_id).expires_at = moment
    return moment


# -- the expiry as written ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("30d", NOW + timedelta(days=30)), ("12h", NOW + timedelta(hours=12)), ("2w", NOW + timedelta(weeks=2)),
    (" 7d ", NOW + timedelta(days=7)), ("2027-06-30", datetime(2027, 6, 30, tzinfo=UTC)),
    ("2027-06-30T12:00", datetime(2027, 6, 30, 12, tzinfo=UTC)),
    ("2027-06-30T12:00+08:00", datetime(2027, 6, 30, 4, tzinfo=UTC)),
])
def test_an_expiry_is_a_span_or_an_iso_date(text: str, expected: datetime) -> None:
    assert parse_expiry(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["30", "1y", "next week", "2027-13-01"])
def test_an_unreadable_expiry_says_how_to_write_one(text: str) -> None:
    with pytest.raises(MofangError, match="write a span such as 30d, 12h or 2w, or an ISO date"):
        parse_expiry(text, now=NOW)
    with pytest.raises(MofangError, match="too far away"):
        parse_expiry("99999999w", now=NOW)


def test_an_expiry_in_the_past_is_refused(acme: MetaStore) -> None:
    with pytest.raises(MofangError, match="is not in the future"):
        create_api_key(acme, tenant="acme", user="ann", role="member", expires_at=NOW - timedelta(days=1))


# -- refused past it, with a 401, audited --------------------------------------------------------------------------
def test_a_key_works_until_its_expiry_then_is_refused(acme: MetaStore) -> None:
    until = datetime.now(UTC) + timedelta(days=30)
    identity, key = create_api_key(acme, tenant="acme", user="ann", role="member", expires_at=until)
    assert authenticate(acme, key).user == "ann"
    with acme.session() as s:
        stored = s.get(ApiKey, identity.key_id).expires_at
    assert stored.replace(tzinfo=stored.tzinfo or UTC) == until.replace(microsecond=stored.microsecond)
    when = expire(acme, identity.key_id)
    with pytest.raises(KeyExpired) as refused:
        authenticate(acme, key, via="cli")
    assert isinstance(refused.value, AuthError)  # a 401 wherever AuthError is one
    assert str(refused.value) == (f"API key mf_{identity.key_id}_… expired on {when:%Y-%m-%d %H:%M} UTC; ask an "
                                  "owner of its tenant (or the operator) for a new key")
    assert key.split("_", 2)[2] not in str(refused.value)


@pytest.mark.parametrize("via", ["cli", None])
def test_the_refusal_is_audited_under_the_keys_owner(acme: MetaStore, via: str | None) -> None:
    identity, key = create_api_key(acme, tenant="acme", user="ann", role="member",
                                   expires_at=datetime.now(UTC) + timedelta(hours=1))
    when = expire(acme, identity.key_id)
    with pytest.raises(KeyExpired):
        authenticate(acme, key, via=via)  # via None: a caller that audits a known key's logins once
    (event,) = AuditLog(acme).events(action=LOGIN_FAILED)
    assert (event["actor"], event["tenant"], event["object"]) == ("ann", "acme", f"mf_{identity.key_id}")
    assert event["details"] == {"via": via or "unknown", "reason": "expired", "expired_at": when.isoformat()}
    assert AuditLog(acme).verify().ok


def test_an_expired_key_is_a_401_over_http(meta: MetaStore) -> None:
    identity, key = create_api_key(meta, tenant=None, user="ops", role="operator",
                                   expires_at=datetime.now(UTC) + timedelta(hours=1))
    api = FastAPI()

    @api.get("/whoami")
    def whoami(who=Depends(operator_guard(meta))) -> dict[str, str]:  # noqa: B008
        return {"user": who.user}

    client = TestClient(api)
    assert client.get("/whoami", headers={"X-API-Key": key}).json() == {"user": "ops"}
    expire(meta, identity.key_id)
    answer = client.get("/whoami", headers={"X-API-Key": key})
    assert answer.status_code == 401 and "expired on" in answer.json()["detail"]
    assert answer.json()["detail"].endswith("ask another operator for a new key")


def test_a_served_product_refuses_an_expired_key_at_its_next_check(acme: MetaStore) -> None:
    identity, key = create_api_key(acme, tenant="acme", user="ann", role="viewer",
                                   expires_at=datetime.now(UTC) + timedelta(hours=1))
    clock = [0.0]
    guard = product_guard(acme, "acme", reverify_s=30, clock=lambda: clock[0])
    assert guard(key).user == "ann"
    expire(acme, identity.key_id)
    clock[0] = 31.0  # a remembered key is checked again after reverify_s
    with pytest.raises(KeyExpired):
        guard(key)


def test_key_is_live_for_callers_that_keep_an_identity(acme: MetaStore) -> None:
    live, _ = create_api_key(acme, tenant="acme", user="ann", role="member")
    ending, _ = create_api_key(acme, tenant="acme", user="bob", role="member",
                               expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert key_is_live(acme, live.key_id) and key_is_live(acme, ending.key_id)
    expire(acme, ending.key_id)
    revoke_api_key(acme, live.key_id)
    assert not key_is_live(acme, live.key_id) and not key_is_live(acme, ending.key_id)
    assert not key_is_live(acme, "000000000000") and not key_is_live(acme, None)


def test_the_listing_shows_each_keys_expiry_and_state(acme: MetaStore) -> None:
    forever, _ = create_api_key(acme, tenant="acme", user="ann", role="owner")
    ending, _ = create_api_key(acme, tenant="acme", user="bob", role="member",
                               expires_at=datetime.now(UTC) + timedelta(days=30))
    gone, _ = create_api_key(acme, tenant="acme", user="cy", role="viewer",
                             expires_at=datetime.now(UTC) + timedelta(days=1))
    expire(acme, gone.key_id)
    ops, _ = create_api_key(acme, tenant=None, user="ops", role="operator")
    revoke_api_key(acme, ops.key_id)
    listed = {key["key_id"]: key for key in list_api_keys(acme)}
    assert {k: listed[k]["state"] for k in listed} == {forever.key_id: "live", ending.key_id: "live",
                                                       gone.key_id: "expired", ops.key_id: "revoked"}
    assert listed[forever.key_id]["expires_at"] is None
    assert listed[ending.key_id]["expires_at"].tzinfo is not None
    assert [k["key_id"] for k in list_api_keys(acme, "acme")] == [forever.key_id, ending.key_id, gone.key_id]
    assert all("hash" not in key and "salt" not in key for key in listed.values())


# -- an older database gains the column ------------------------------------------------------------------------------
def _drop_expiry(meta: MetaStore) -> None:
    """Make the database the release before expiry (and before migrations) left: no column, no `alembic_version`."""
    with meta.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE api_keys DROP COLUMN expires_at")
        conn.exec_driver_sql("DROP TABLE alembic_version")
    assert "expires_at" not in {c["name"] for c in inspect(meta.engine).get_columns("api_keys")}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_made_before_expiry_existed_still_opens(home: Path, backend: str) -> None:
    url = f"sqlite:///{home / 'old.db'}" if backend == "sqlite" else postgres_url(fresh_schema=True)
    old = MetaStore(url)
    create_tenant(old, "acme")
    identity, key = create_api_key(old, tenant="acme", user="ann", role="member")
    _drop_expiry(old)
    old.dispose()
    if backend == "sqlite":  # the key row is still there, without the column
        with sqlite3.connect(home / "old.db") as raw:
            assert raw.execute("select user from api_keys").fetchall() == [("ann",)]
    reopened = MetaStore(url)
    try:
        assert "expires_at" in {c["name"] for c in inspect(reopened.engine).get_columns("api_keys")}
        assert authenticate(reopened, key).key_id == identity.key_id  # never expires
        _, later = create_api_key(reopened, tenant="acme", user="bob", role="member", expires_at=NOW + timedelta(
            days=3650))
        assert authenticate(reopened, later).user == "bob"
        MetaStore(url).dispose()  # opening it again finds the column there
    finally:
        reopened.dispose()


# -- the CLI ---------------------------------------------------------------------------------------------------
def cli(home: Path, *args: str, key: str = ""):
    return CliRunner().invoke(app, list(args), env={"MOFANG_HOME": str(home), "MOFANG_API_KEY": key,
                                                    "COLUMNS": "200"})


def test_keys_create_with_an_expiry_and_keys_list(home: Path) -> None:
    assert cli(home, "tenants", "create", "acme").exit_code == 0  # bootstrap: no key yet
    made = cli(home, "keys", "create", "--user", "ops", "--role", "operator", "--expires", "30d")
    assert made.exit_code == 0, made.output
    operator = re.search(r"(mf_[0-9a-f]{12}_\S+)", made.output).group(1)
    until = datetime.now(UTC) + timedelta(days=30)
    assert re.search(r"operator, expires \d{4}-\d\d-\d\d \d\d:\d\d UTC\):", made.output)
    assert f"expires {until:%Y-%m-%d}" in made.output
    owner = cli(home, "keys", "create", "--user", "ann", "--role", "owner", "--tenant", "acme",
                "--expires", "2099-01-31", key=operator)
    assert owner.exit_code == 0 and "expires 2099-01-31 00:00 UTC" in owner.output
    plain = cli(home, "keys", "create", "--user", "bob", "--role", "member", "--tenant", "acme", key=operator)
    assert plain.exit_code == 0 and "expires" not in plain.output
    listing = cli(home, "keys", "list", key=operator)
    assert listing.exit_code == 0, listing.output
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in listing.output.splitlines()
            if re.search(r"│ [0-9a-f]{12} ", line)]
    by_user = {row[2]: row for row in rows}  # key, tenant, user, role, created, expires, state
    assert by_user["ann"][5:] == ["2099-01-31 00:00 UTC", "live"] and by_user["bob"][5:] == ["never", "live"]
    assert by_user["ops"][1] == "-" and by_user["ops"][5].startswith(f"{until:%Y-%m-%d}")
    owners_view = cli(home, "keys", "list", key=re.search(r"(mf_[0-9a-f]{12}_\S+)", owner.output).group(1))
    assert owners_view.exit_code == 0 and "ops" not in owners_view.output and "bob" in owners_view.output


def test_the_cli_refuses_an_expired_key_and_a_bad_expiry(home: Path) -> None:
    assert cli(home, "tenants", "create", "acme").exit_code == 0
    made = cli(home, "keys", "create", "--user", "ops", "--role", "operator", "--expires", "1h")
    operator = re.search(r"(mf_[0-9a-f]{12}_\S+)", made.output).group(1)
    bad = cli(home, "keys", "create", "--user", "x", "--role", "member", "--tenant", "acme", "--expires", "soon",
              key=operator)
    assert bad.exit_code == 2 and "cannot read expiry 'soon'" in bad.output
    meta = MetaStore()
    try:
        expire(meta, operator.split("_")[1])
        refused = cli(home, "keys", "list", key=operator)
        assert refused.exit_code == 2 and "expired on" in refused.output
        assert AuditLog(meta).events(action=LOGIN_FAILED)[-1]["details"]["reason"] == "expired"
    finally:
        meta.dispose()
