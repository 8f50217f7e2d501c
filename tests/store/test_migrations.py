"""Schema migrations of the metadata store (mofang.store.migrate), on SQLite and on a real PostgreSQL: a store
made by the release before migrations is adopted and upgraded with every row kept, an older revision is upgraded,
a new database is created at the head (the same schema the revisions build), opening a current one costs no
Alembic, and processes opening one database at once migrate it once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Integer, MetaData, create_engine, insert, inspect, select
from sqlalchemy.engine import Connection

from mofang.core.errors import MofangError
from mofang.portal.webhooks import TABLES as PORTAL_TABLES
from mofang.security.identity import authenticate, create_api_key
from mofang.security.tables import ApiKey
from mofang.store import MetaStore
from mofang.store.migrate import BASELINE, HEAD, SCRIPTS, revisions, run_alembic
from mofang.store.models import Base
from mofang.store.tables import load_unit_tables
from tests.conftest import PG_URL, postgres_url

WEBHOOK_TABLES = ["tenants", "webhook_endpoints", "webhook_deliveries"]  # the portal's (0003), and what they name


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database: a SQLite file, or a new PostgreSQL schema dropped afterwards (required under CI)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta.db'}"
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        monkeypatch.setenv("MOFANG_REQUIRE_POSTGRES", "1")
    url = postgres_url(fresh_schema=True)
    yield url
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {url.rsplit('%3D', 1)[1]} CASCADE")
    engine.dispose()


def previous_release(url: str) -> None:
    """The database as the release before migrations left it: the baseline's tables, no `alembic_version`."""
    engine = create_engine(url)
    with engine.begin() as conn:
        run_alembic(conn, Base.metadata, "upgrade", BASELINE)
        conn.exec_driver_sql("DROP TABLE alembic_version")
    engine.dispose()


def _value(column: Any, i: int) -> Any:
    kind = column.type.python_type
    return {str: f"s{i}", int: i + 1, float: i + 0.5, bool: bool(i), bytes: bytes([0, 1, i]),
            datetime: datetime(2026, 11, 1 + i, 8, 30, tzinfo=UTC), dict: {"k": i, "价格": [1.5, None]},
            list: [i, "a"]}[kind]


def fill(conn: Connection, tables: MetaData, n: int = 2) -> None:
    """`n` rows in every table, every column set (foreign keys naming the referenced table's rows)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in tables.sorted_tables:
        rows[table.name] = []
        for i in range(n):
            values: dict[str, Any] = {}
            for column in table.columns:
                if column.foreign_keys:
                    ref = next(iter(column.foreign_keys)).column
                    values[column.name] = rows[ref.table.name][i][ref.name]
                elif not (column.primary_key and isinstance(column.type, Integer)):
                    values[column.name] = _value(column, i)
            result = conn.execute(insert(table).values(**values))
            rows[table.name].append({**values, **result.inserted_primary_key._asdict()})


def dump(conn: Connection, tables: MetaData) -> dict[str, list[str]]:
    """Every row of every table (of `tables`' columns), in a comparable form."""
    return {t.name: sorted(repr(sorted(row.items())) for row in conn.execute(select(t)).mappings())
            for t in tables.sorted_tables}


def test_head_is_the_newest_revision_and_the_baseline_the_first() -> None:
    script = ScriptDirectory(str(SCRIPTS))
    assert script.get_current_head() == HEAD
    assert [s.revision for s in script.walk_revisions()][-1] == BASELINE == script.get_bases()[0]


def test_a_store_of_the_previous_release_is_upgraded_with_every_row_kept(url: str) -> None:
    previous_release(url)
    engine = create_engine(url)
    old = MetaData()
    old.reflect(engine)
    assert len(old.tables) == 19 and "expires_at" not in old.tables["api_keys"].c
    # the previous release's schema is today's less one column, the webhook tables, which its portal made
    # only when it ran (the baseline matched b797c23's create_all), and the portal's sessions (0004)
    assert sorted(map(_described, _schema_drift(url))) == [
        ("add_column", "api_keys.expires_at"), ("add_index", "ix_portal_sessions_expires_at"),
        ("add_index", "ix_portal_sessions_tenant_id"), ("add_index", "ix_webhook_deliveries_status"),
        ("add_index", "ix_webhook_deliveries_tenant_id"), ("add_table", "portal_sessions"),
        ("add_table", "webhook_deliveries"), ("add_table", "webhook_endpoints")]
    with engine.begin() as conn:
        fill(conn, old)
        before = dump(conn, old)
    assert all(len(rows) == 2 for rows in before.values())

    store = MetaStore(url)
    try:
        assert store.migration == "adopted"
        with engine.connect() as conn:
            assert revisions(conn) == {HEAD}
            assert dump(conn, old) == before  # every row of every table, every value
        assert "expires_at" in {c["name"] for c in inspect(engine).get_columns("api_keys")}
        assert {"webhook_endpoints", "webhook_deliveries"} <= set(inspect(engine).get_table_names())
        assert _schema_drift(url) == []
        # the current code reads the old rows ...
        assert [o.order_id for o in store.orders("s0")] == ["s0"]
        assert store.job(store.orders("s1")[0].jobs[0].id).spec == {"k": 1, "价格": [1.5, None]}
        assert store.product_version("s0", tenant="s0").bundle_digest == "s0"
        with store.session() as s:
            assert s.get(ApiKey, "s1").expires_at is None  # an old key never expires
        # ... and writes new ones, the new column included
        job = store.register_job("s0", "new", "tabular-regression", {}, None)
        assert store.job(job).status == "queued"
        identity, key = create_api_key(store, tenant="s0", user="ann", role="member",
                                       expires_at=datetime.now(UTC) + timedelta(days=1))
        assert authenticate(store, key).key_id == identity.key_id
        assert MetaStore(url).migration == "current"
    finally:
        store.dispose()
        engine.dispose()


def test_an_older_revision_is_upgraded(url: str) -> None:
    store = MetaStore(url)
    identity, _ = create_api_key(store, tenant=None, user="ops", role="operator")
    store.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        run_alembic(conn, Base.metadata, "downgrade", BASELINE)
    assert "expires_at" not in {c["name"] for c in inspect(engine).get_columns("api_keys")}
    store = MetaStore(url)
    try:
        assert store.migration == "upgraded"
        with store.session() as s:
            key = s.get(ApiKey, identity.key_id)
            assert key is not None and key.user == "ops" and key.expires_at is None
    finally:
        store.dispose()
        engine.dispose()


def test_a_pre_migration_database_that_has_the_column_already_is_adopted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    previous_release(url)  # as this release's code made it before migrations: with api_keys.expires_at
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE api_keys ADD COLUMN expires_at DATETIME")
        conn.exec_driver_sql("DROP TABLE order_keys")  # and a table a unit never made
    engine.dispose()
    store = MetaStore(url)
    assert store.migration == "adopted"
    assert {"order_keys", "api_keys"} <= set(inspect(store.engine).get_table_names())
    store.dispose()


def _schema_drift(url: str) -> list[Any]:
    load_unit_tables()
    engine = create_engine(url)
    with engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    return drift


def _described(difference: Any) -> tuple[str, str]:
    """A schema difference (add_table, add_index, add_column) as its kind and what it names."""
    if difference[0] == "add_column":
        return difference[0], f"{difference[2]}.{difference[3].name}"
    return difference[0], difference[1].name


def test_a_new_database_gets_the_schema_the_revisions_build(url: str, tmp_path: Path) -> None:
    store = MetaStore(url)
    assert store.migration == "created" and MetaStore(url).migration == "current"
    with store.engine.connect() as conn:
        assert revisions(conn) == {HEAD}
    store.dispose()
    assert _schema_drift(url) == []  # create_all made what the models say
    migrated = f"sqlite:///{tmp_path / 'migrated.db'}" if url.startswith("sqlite") else url
    if not url.startswith("sqlite"):  # the same PostgreSQL schema, emptied, then built by the revisions
        engine = create_engine(url)
        schema = url.rsplit("%3D", 1)[1]
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()
    engine = create_engine(migrated)
    with engine.begin() as conn:
        run_alembic(conn, Base.metadata, "upgrade", "head")
    engine.dispose()
    assert _schema_drift(migrated) == []  # a model change without a revision shows here


@pytest.mark.parametrize("made", ["at 0002", "before migrations"])
def test_webhook_tables_the_portal_made_itself_are_kept(url: str, made: str) -> None:
    """Before 0003 the portal created its webhook tables on first use (`ensure_tables`): a database where it did
    is migrated with those tables and their rows as they were."""
    if made == "at 0002":
        MetaStore(url).dispose()
        engine = create_engine(url)
        with engine.begin() as conn:
            run_alembic(conn, Base.metadata, "downgrade", "0002_api_key_expiry")
            assert not {"webhook_endpoints", "webhook_deliveries"} & set(inspect(conn).get_table_names())
    else:
        previous_release(url)
        engine = create_engine(url)
    with engine.begin() as conn:
        Base.metadata.create_all(conn, tables=PORTAL_TABLES)  # what the portal's ensure_tables did
        webhook = MetaData()
        webhook.reflect(conn, only=WEBHOOK_TABLES)
        fill(conn, webhook)
        before = dump(conn, webhook)
    assert all(len(rows) == 2 for rows in before.values())
    store = MetaStore(url)
    try:
        assert store.migration == ("upgraded" if made == "at 0002" else "adopted")
        with engine.connect() as conn:
            assert revisions(conn) == {HEAD}
            assert dump(conn, webhook) == before
        assert _schema_drift(url) == []
    finally:
        store.dispose()
        engine.dispose()


def test_the_webhook_revision_goes_down_and_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    MetaStore(url).dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        run_alembic(conn, Base.metadata, "downgrade", "0002_api_key_expiry")
        assert revisions(conn) == {"0002_api_key_expiry"}
        assert not {"webhook_endpoints", "webhook_deliveries"} & set(inspect(conn).get_table_names())
    engine.dispose()
    store = MetaStore(url)
    try:
        assert store.migration == "upgraded"
    finally:
        store.dispose()
    assert _schema_drift(url) == []


def test_a_revision_this_code_does_not_know_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    MetaStore(url).dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    engine.dispose()
    with pytest.raises(MofangError, match="0099_from_the_future.*upgrade Mofang"):
        MetaStore(url)


OPEN = """
import sys, time
from pathlib import Path
from mofang.store import MetaStore
gate = Path(sys.argv[2])
print("ready", flush=True)
while not gate.exists():
    time.sleep(0.01)
store = MetaStore(sys.argv[1])
print(store.migration, "alembic" in sys.modules)
"""


@pytest.mark.slow
@pytest.mark.parametrize("made_by", ["nothing", "previous release"])
def test_processes_opening_one_database_at_once_migrate_it_once(url: str, made_by: str, tmp_path: Path) -> None:
    if made_by == "previous release":
        previous_release(url)
    gate = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, url, str(gate)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    assert [p.stdout.readline() for p in procs] == ["ready\n"] * 3  # every one past its imports, at the gate
    gate.touch()
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    outcomes = sorted(out.split()[0] for out, _ in results)  # after "ready", already read
    assert outcomes == sorted(["current", "current", "created" if made_by == "nothing" else "adopted"])
    # a database at the head is opened without importing Alembic
    out = subprocess.run([sys.executable, "-c", OPEN, url, str(gate)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ready", "current", "False"]


def test_the_sessions_revision_goes_down_and_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    MetaStore(url).dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        run_alembic(conn, Base.metadata, "downgrade", "0003_webhook_tables")
        assert revisions(conn) == {"0003_webhook_tables"}
        assert "portal_sessions" not in set(inspect(conn).get_table_names())
    engine.dispose()
    store = MetaStore(url)
    try:
        assert store.migration == "upgraded"
        assert "portal_sessions" in set(inspect(store.engine).get_table_names())
    finally:
        store.dispose()
    assert _schema_drift(url) == []
