"""`mofang db current|upgrade`: the metadata store's schema revision (thin views over mofang.store.migrate).

Every command migrates the store when it opens it; `db upgrade` does only that and says what it did (operators).
`db current` reads the revision straight from the database, without opening the store, so it migrates nothing
and needs no identity: it shows a revision id, nothing of any tenant."""

from __future__ import annotations

from pathlib import Path

import typer

from mofang.cli.common import fail, open_meta, out
from mofang.core.errors import MofangError

db_app = typer.Typer(help="The metadata store's schema: its revision, and migrating it to this release's.",
                     no_args_is_help=True)


def _where() -> tuple[str, str]:
    from sqlalchemy.engine import make_url

    from mofang.core.config import settings

    url = settings().db_url
    return url, make_url(url).render_as_string(hide_password=True)


def _stamped(url: str) -> tuple[set[str], bool] | None:
    """The database's revisions and whether it has any tables; None when there is no database yet."""
    from sqlalchemy import create_engine, inspect

    from mofang.store.migrate import revisions

    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return revisions(connection), bool(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _describe(found: set[str], has_tables: bool) -> str:
    from mofang.store.migrate import HEAD

    if found == {HEAD}:
        return f"revision {HEAD} (this release's)"
    was = ", ".join(sorted(found)) if found else ("none: made by a release before migrations" if has_tables
                                                   else "none: an empty database")
    return f"revision {was}; this release's is {HEAD}"


@db_app.command("current")
def current() -> None:
    """Show the schema revision the metadata store is at, and this release's (migrates nothing)."""
    try:
        url, shown = _where()
        stamped = _stamped(url)
    except Exception as exc:  # noqa: BLE001 - an unreachable or unreadable database is reported, not a trace
        raise fail(MofangError(f"cannot read the metadata store's revision: {exc}")) from None
    out.print(f"{shown}: " + ("no database yet (the first command that opens the store creates it)"
                              if stamped is None else _describe(*stamped)))


@db_app.command("upgrade")
def upgrade() -> None:
    """Migrate the metadata store to this release's schema (operators; what opening it does anyway)."""
    from mofang.cli.scheduling import operator_identity

    try:
        url, shown = _where()
        before = _stamped(url)
        meta = open_meta()
        operator_identity(meta, "db.upgrade")
    except MofangError as exc:
        raise fail(exc) from None
    from mofang.store.migrate import HEAD

    was = "no database" if before is None else ", ".join(sorted(before[0])) or "no revision"
    done = f"at {HEAD}, nothing to do" if meta.migration == "current" else f"{meta.migration}: {was} -> {HEAD}"
    out.print(f"{shown}: {done}")
    meta.dispose()
