"""Sign-in sessions in the metadata store: the cookie's id is stored only hashed, signing out deletes the row, an
expired session is sent to sign in, a second portal process over the same store knows the session, and a browser
stays signed in across a restart of `mofang portal`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from mofang.portal.sessions import SESSION_COOKIE, digest
from mofang.portal.tables import PortalSession
from mofang.products.server import free_port
from tests.portal.conftest import Factory, Server, signed_in
from tests.portal.steps import VIEWPORT, Steps, sign_in


def _rows() -> list[PortalSession]:
    from mofang.store import MetaStore

    meta = MetaStore()
    try:
        with meta.session() as s:
            return list(s.scalars(select(PortalSession)))
    finally:
        meta.dispose()


def test_the_session_is_stored_hashed_and_signing_out_deletes_it(factory: Factory) -> None:
    with signed_in(factory.url, factory.keys["member_a"]) as client:
        sid = client.cookies[SESSION_COOKIE]
        rows = {r.id_hash: r for r in _rows()}
        assert digest(sid) in rows and all(sid not in (r.id_hash, r.csrf) for r in rows.values())
        row = rows[digest(sid)]
        assert (row.user, row.tenant_id, row.role) == ("member_a", "demo-bank", "member")
        assert client.get("/orders").status_code == 200
        page = client.get("/orders").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf, "the sign-out form carries the session's CSRF token"
        assert client.post("/signout", data={"csrf_token": csrf.group(1)}).status_code == 303
        assert digest(sid) not in {r.id_hash for r in _rows()}
        client.cookies.set(SESSION_COOKIE, sid)  # the old cookie, replayed
        assert client.get("/orders").headers["location"].startswith("/signin")


def test_an_expired_session_is_sent_to_sign_in_and_deleted(factory: Factory) -> None:
    from mofang.store import MetaStore

    with signed_in(factory.url, factory.keys["viewer_a"]) as client:
        sid = client.cookies[SESSION_COOKIE]
        meta = MetaStore()
        try:
            with meta.session() as s:
                s.execute(update(PortalSession).where(PortalSession.id_hash == digest(sid))
                          .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
        finally:
            meta.dispose()
        answer = client.get("/orders/loan-default-demo")
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next=")
        assert client.get("/api/v1/orders").status_code == 401
        assert digest(sid) not in {r.id_hash for r in _rows()}


def test_a_second_portal_process_over_the_same_store_knows_the_session(factory: Factory) -> None:
    from mofang.portal import create_app
    from mofang.store import MetaStore

    meta = MetaStore()
    try:
        with Server(create_app(meta, factory.home, notify=False)) as other:
            with signed_in(factory.url, factory.keys["owner_a"]) as first:
                with httpx.Client(base_url=other, timeout=30, follow_redirects=False) as second:
                    second.cookies.set(SESSION_COOKIE, first.cookies[SESSION_COOKIE])
                    answer = second.get("/orders")
                    assert answer.status_code == 200 and "loan-default-demo" in answer.text
    finally:
        meta.dispose()


def test_signing_out_everywhere_and_revoking_the_key_end_every_session(factory: Factory) -> None:
    with factory.client("owner_a") as owner:
        made = owner.post("/api/v1/keys", json={"user": "roamer", "role": "viewer"}).json()
    with signed_in(factory.url, made["key"]) as laptop, signed_in(factory.url, made["key"]) as phone:
        page = laptop.get("/orders").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf and phone.get("/orders").status_code == 200
        laptop.post("/signout", data={"csrf_token": csrf.group(1), "everywhere": "1"})
        assert phone.get("/orders").status_code == 303  # the other browser is signed out too
    with signed_in(factory.url, made["key"]) as browser:
        assert made["key_id"] in {r.key_id for r in _rows()}
        with factory.client("owner_a") as owner:
            assert owner.delete(f"/api/v1/keys/{made['key_id']}").status_code == 200
        assert made["key_id"] not in {r.key_id for r in _rows()}
        assert browser.get("/orders").headers["location"].startswith("/signin")


@pytest.fixture
def portal_home(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """A fresh MOFANG_HOME with tenant acme, an operator's key (who starts the portal) and an owner's key."""
    from mofang.security.identity import create_api_key, create_tenant
    from mofang.store import MetaStore

    home = tmp_path / "home"
    meta = MetaStore(f"sqlite:///{home / 'mofang.db'}")
    try:
        create_tenant(meta, "acme")
        operator = create_api_key(meta, tenant=None, user="ops", role="operator")[1]
        yield home, operator, create_api_key(meta, tenant="acme", user="ann", role="owner")[1]
    finally:
        meta.dispose()


def _portal(home: Path, operator: str, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "MOFANG_HOME": str(home), "HF_HUB_OFFLINE": "1", "MOFANG_API_KEY": operator}
    env.pop("MOFANG_DB_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "mofang.cli", "portal", "--port", str(port), "--workers", "0"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/signin", timeout=5)
            return process
        except httpx.TransportError:
            assert process.poll() is None and time.monotonic() < deadline, process.stdout and process.stdout.read()
            time.sleep(0.3)


def _stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def test_a_browser_stays_signed_in_across_a_portal_restart(portal_home: tuple[Path, str, str], browser) -> None:
    home, operator, key = portal_home
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = _portal(home, operator, port)
    context = browser.new_context(locale="zh-CN", viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    steps = Steps(page, "restart")
    try:
        sign_in(page, url, key)
        page.wait_for_url("**/orders")
        steps.shot("signed-in")
        _stop(process)
        assert process.returncode == 0
        process = _portal(home, operator, port)  # a new process: nothing of the old one's memory
        page.reload()
        page.wait_for_url("**/orders")
        assert "ann" in page.inner_text("header"), page.inner_text("body")
        steps.shot("still-signed-in-after-restart")
        page.click("#signout-button")
        page.wait_for_url("**/signin")
        page.goto(f"{url}/orders")
        assert "/signin" in page.url and page.locator("#api-key").count() == 1, page.url
        steps.shot("signed-out")
    finally:
        context.close()
        _stop(process)


def test_destroying_a_tenant_deletes_its_sessions(tmp_path: Path) -> None:
    from mofang.portal.sessions import SessionStore
    from mofang.portal.tables import forget
    from mofang.security.identity import Identity, Role
    from mofang.store import MetaStore

    meta = MetaStore(f"sqlite:///{tmp_path / 'meta.db'}")
    try:
        store = SessionStore(meta)
        doomed, _ = store.open(Identity(user="ann", tenant="acme", role=Role.OWNER, key_id="k1"))
        kept, _ = store.open(Identity(user="bo", tenant="beta", role=Role.OWNER, key_id="k2"))
        with meta.session() as s:
            forget(s, "acme", ["an-order"])  # one order's destruction keeps the tenant's browsers signed in
        assert store.get(doomed) is not None
        with meta.session() as s:
            forget(s, "acme", None)
        assert store.get(doomed) is None and store.get(kept) is not None
    finally:
        meta.dispose()
