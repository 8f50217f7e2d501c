"""A tiny tabular product delivered once per session, shared by the product engineering tests that only read it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.products.tiny_orders import mofang_home, run_order, write_order

MONITORING = "monitoring:\n  window_rows: 200\n  min_rows: 100\n"


@pytest.fixture(scope="session")
def churn_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MOFANG_HOME holding the delivered tiny churn product (version 1, champion)."""
    root = tmp_path_factory.mktemp("churn")
    with mofang_home(root / "home") as home:
        from mofang.store import MetaStore

        meta = MetaStore()
        try:
            job = run_order(write_order(root / "order", extra=MONITORING), meta)
        finally:
            meta.dispose()
        assert job.status == "done", (job.error, job.outcome)
    return home


@pytest.fixture()
def churn_meta(churn_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """The shared churn home as this test's MOFANG_HOME, and its metadata store."""
    from mofang.store import MetaStore

    monkeypatch.setenv("MOFANG_HOME", str(churn_home))
    monkeypatch.delenv("MOFANG_DB_URL", raising=False)
    monkeypatch.delenv("MOFANG_API_KEY", raising=False)
    meta = MetaStore()
    yield meta
    meta.dispose()


@pytest.fixture(scope="session")
def churn_keys(churn_home: Path) -> dict[str, str]:
    """API keys in the churn home: acme's owner and analyst, and beta's owner (a second tenant)."""
    with mofang_home(churn_home):
        from mofang.security.identity import create_api_key, create_tenant
        from mofang.store import MetaStore

        meta = MetaStore()
        try:
            create_tenant(meta, "beta")
            keys = {"operator": create_api_key(meta, tenant=None, user="ops", role="operator")[1]}
            for name, tenant, role in (("acme_owner", "acme", "owner"), ("acme_analyst", "acme", "viewer"),
                                       ("beta_owner", "beta", "owner")):
                keys[name] = create_api_key(meta, tenant=tenant, user=name, role=role)[1]
        finally:
            meta.dispose()
    return keys
