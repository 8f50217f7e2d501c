"""Shared fixtures: an isolated MOFANG_HOME with SQLite, and a station context factory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# ../shared/datasets beside the checkout, or MOFANG_SHARED_DATASETS; required in CI (CI=true or MOFANG_REQUIRE_SHARED=1)
SHARED_DATASETS = Path(os.environ.get("MOFANG_SHARED_DATASETS")
                       or Path(__file__).resolve().parents[2] / "shared" / "datasets")


def shared_required() -> bool:
    """Whether a missing shared dataset fails the run (CI) instead of skipping the test (a laptop)."""
    return (os.environ.get("MOFANG_REQUIRE_SHARED") == "1"
            or os.environ.get("CI", "").lower() in ("1", "true", "yes"))


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MOFANG_HOME (files + SQLite) for one test."""
    home = tmp_path / "home"
    monkeypatch.setenv("MOFANG_HOME", str(home))
    monkeypatch.delenv("MOFANG_DB_URL", raising=False)
    return home


@pytest.fixture()
def meta(home: Path):
    from mofang.store import MetaStore

    store = MetaStore()
    yield store
    store.dispose()


@pytest.fixture()
def artifacts(home: Path):
    from mofang.store import ArtifactStore

    return ArtifactStore(home)


@pytest.fixture()
def make_ctx(meta, artifacts) -> Callable:
    """Build a StationContext for an Order, with its job registered in the store."""
    from mofang.station import SilentProgress, StationContext

    def factory(order, station: str = "test"):
        job_id = meta.register_job(order.tenant, order.id, order.task,
                                   order.model_dump(mode="json"), None)
        ctx = StationContext(job_id=job_id, order=order, meta=meta, artifacts=artifacts,
                             progress=SilentProgress(), budget_used_s=0.0)
        ctx.station = station
        return ctx

    return factory


def shared_dataset(relative: str) -> Path:
    """A file of ../shared/datasets; when this machine lacks it, the test skips saying where it looked — or
    fails in CI, where a missing shared folder is a broken machine, not a reason to test less."""
    path = SHARED_DATASETS / relative
    if not path.exists():
        why = (f"shared dataset {relative} not found at {path} (put ../shared/datasets beside the checkout "
               "or set MOFANG_SHARED_DATASETS)")
        if shared_required():
            pytest.fail(why)
        pytest.skip(why)
    return path


PG_URL = os.environ.get("MOFANG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_url(fresh_schema: bool = False) -> str:
    """The test PostgreSQL URL (optionally on a new empty schema), or skip when it is unreachable —
    fail instead when MOFANG_REQUIRE_POSTGRES=1 (CI)."""
    import uuid

    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "not here"
        if os.environ.get("MOFANG_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but unreachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {type(exc).__name__}")
    if not fresh_schema:
        engine.dispose()
        return PG_URL
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with engine.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    engine.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


MARIADB_URL = os.environ.get("MOFANG_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test?charset=utf8mb4")


def mariadb_url() -> str:
    """The test MariaDB URL, or skip when it is unreachable — fail instead when MOFANG_REQUIRE_MARIADB=1 (CI)."""
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(MARIADB_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "not here"
        if os.environ.get("MOFANG_REQUIRE_MARIADB") == "1":
            pytest.fail(f"MariaDB is required here but unreachable at {MARIADB_URL}: {exc}")
        pytest.skip(f"MariaDB unreachable at {MARIADB_URL}: {type(exc).__name__}")
    engine.dispose()
    return MARIADB_URL


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    """Name the random order's seed at the end of the run too (the header that shows it is hidden by -q)."""
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int) and config.pluginmanager.has_plugin("randomly"):
        terminalreporter.write_line(f"test order: random, seed {seed} (rerun this order: pytest -p randomly "
                                    f"--randomly-seed={seed}; file order: pytest -p no:randomly)")
