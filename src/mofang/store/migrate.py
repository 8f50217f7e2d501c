"""Schema migrations of the metadata store (Alembic; the revisions ship in `mofang/store/migrations/versions`),
run each time a store opens.

A database already at `HEAD` costs one query and no Alembic import. Otherwise, holding a lock (PostgreSQL: an
advisory lock for the migrating transaction; SQLite: `BEGIN IMMEDIATE`), so that two processes opening the same
database at once migrate it once: an empty database gets the current schema (`create_all`) stamped at `HEAD`; one
made by the release before migrations (tables but no `alembic_version`) is adopted by the baseline revision and
upgraded; one at an older revision is upgraded. A revision this code does not know (a newer release's) is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, func, insert, inspect, select
from sqlalchemy.engine import Connection, Engine

from mofang.core.errors import MofangError

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0004_portal_sessions"  # the newest revision (a test checks it against the scripts)
BASELINE = "0001_baseline"  # the schema of the release before migrations
SCRIPTS = Path(__file__).with_name("migrations")
PG_LOCK_KEY = 0x6D6F66616E67  # "mofang": the PostgreSQL advisory lock held while migrating

Outcome = Literal["current", "created", "adopted", "upgraded"]
log = logging.getLogger(__name__)

# Alembic's own version table, declared here so that reading and stamping it needs no Alembic import
_version = Table("alembic_version", MetaData(), Column("version_num", String(32), nullable=False),
                 PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))


def revisions(connection: Connection) -> set[str]:
    """The revisions the database is stamped at (empty: never stamped)."""
    if not inspect(connection).has_table(_version.name):
        return set()
    return set(connection.execute(select(_version.c.version_num)).scalars())


def migrate(engine: Engine, metadata: MetaData) -> Outcome:
    """Bring the database to `HEAD` (`metadata`: every unit's tables, for a new database); says what it did."""
    with engine.connect() as connection:
        if revisions(connection) == {HEAD}:
            return "current"
    with _exclusive(engine) as connection:
        found = revisions(connection)
        if found == {HEAD}:  # another process migrated it while we waited
            return "current"
        if not found and not metadata.tables.keys() & set(inspect(connection).get_table_names()):
            metadata.create_all(connection)
            _version.create(connection)
            connection.execute(insert(_version).values(version_num=HEAD))
            return "created"
        _check_known(found)
        run_alembic(connection, metadata, "upgrade", "head")
        outcome: Outcome = "upgraded" if found else "adopted"
        log.info("metadata store %s: %s -> %s", outcome, ", ".join(sorted(found)) or "pre-migration", HEAD)
        return outcome


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration for the shipped scripts (no ini file needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def run_alembic(connection: Connection, metadata: MetaData, command: str, *args: str) -> None:
    """Run an Alembic command (`upgrade`, `downgrade`, `stamp`, ...) on `connection`, inside its transaction."""
    from alembic import command as commands

    config = alembic_config()
    config.attributes.update(connection=connection, metadata=metadata)
    getattr(commands, command)(config, *args)


def _check_known(found: set[str]) -> None:
    from alembic.script import ScriptDirectory

    known = {script.revision for script in ScriptDirectory(str(SCRIPTS)).walk_revisions()}
    if unknown := found - known:
        raise MofangError(f"the metadata store is at schema revision {', '.join(sorted(unknown))}, which this "
                          f"Mofang does not know (its newest is {HEAD}): a newer release migrated it; upgrade Mofang")


@contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that no other migrating process shares; committed on success."""
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # the database's write lock, until commit
        elif connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(PG_LOCK_KEY)))
        yield connection
        connection.commit()
