"""Alembic's environment for the metadata store: migrates the connection `mofang.store.migrate` hands over
(`config.attributes["connection"]`), or else the store's URL (`sqlalchemy.url`, default `MOFANG_DB_URL`)."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Connection

from mofang.core.config import settings
from mofang.store.models import Base
from mofang.store.tables import load_unit_tables


def _only_known(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Autogenerate compares the tables the store owns; a table only in the database (one a unit no longer
    declares, or another program's) is not the migrations' to drop."""
    return not (type_ == "table" and reflected and compare_to is None)


def _migrate(connection: Connection, metadata: MetaData) -> None:
    context.configure(connection=connection, target_metadata=metadata, include_object=_only_known,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    config = context.config
    metadata = config.attributes.get("metadata")
    if metadata is None:
        load_unit_tables()
        metadata = Base.metadata
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection, metadata)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or settings().db_url)
    try:
        with engine.begin() as connection:
            _migrate(connection, metadata)
    finally:
        engine.dispose()


_run()
