"""SQL connector: a table or a query through SQLAlchemy, selecting only the granted columns."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.limits import Limits, check_shape, limits
from mofang.data.missing import stringify
from mofang.orders.schema import Source

Granted = Callable[[str], bool]
CHUNK_ROWS = 1_000_000  # rows fetched at a time (one chunk for most tables: dtypes as read whole)


def clean_header(name: object) -> str:
    """A column name as Mofang uses it: text, without BOM or surrounding spaces."""
    return str(name).replace("\ufeff", "").strip()


def read_sql(source: Source, allowed: Granted, limit: Limits | None = None) -> tuple[pd.DataFrame, dict]:
    """Read the source's table or query; denied columns are never selected (listed in the info). Rows are
    fetched in chunks and refused once past the row limit (`limit`, default `limits()`)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import SQLAlchemyError

    label = source.label
    limit = limit or limits()
    try:
        engine = create_engine(source.url or "")
    except Exception as exc:  # ArgumentError, NoSuchModuleError, missing driver
        raise DataError(f"bad database URL ({type(exc).__name__}: {exc})", source=label) from None
    try:
        with engine.connect() as conn:
            if source.table:
                names, statement = _granted_table(conn, source.table, allowed, label)
                check_shape(0, sum(allowed(clean_header(n)) for n in names), label, limit)
                frame = _read_chunks(statement, conn, label, limit)
            else:
                query, names = granted_query(conn, source.query or "", allowed)
                frame = _read_chunks(text(query), conn, label, limit)
    except DataError:
        raise
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DataError(f"database error: {detail}", source=label) from None
    finally:
        engine.dispose()
    denied = [clean_header(n) for n in names if not allowed(clean_header(n))]
    return stringify(frame), {"format": "sql", "denied": denied}


def _read_chunks(statement: Any, conn: Any, label: str, limit: Limits) -> pd.DataFrame:
    """The statement's rows, read in chunks so that a table over the row limit stops at the limit."""
    frames, rows = [], 0
    for chunk in pd.read_sql(statement, conn, dtype_backend="numpy_nullable", chunksize=CHUNK_ROWS):
        frames.append(chunk)
        rows += len(chunk)
        check_shape(rows, chunk.shape[1], label, limit)
    if len(frames) == 1:
        return frames[0]
    if not frames:  # no rows at all: the columns still come from the cursor
        return pd.read_sql(statement, conn, dtype_backend="numpy_nullable")
    return pd.concat(frames, ignore_index=True)


def granted_query(conn: Any, query: str, allowed: Granted) -> tuple[str, list[str]]:
    """The order's query wrapped so that only granted columns leave the database; and its columns."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    inner = query.strip().rstrip(";")
    try:
        names = list(conn.execute(text(f"SELECT * FROM ({inner}) AS mofang_q WHERE 1 = 0")).keys())
    except SQLAlchemyError:  # a query this database will not nest: run it as written, drop columns after
        conn.rollback()
        return inner, []
    if all(allowed(clean_header(n)) for n in names):
        return inner, names
    quote = conn.dialect.identifier_preparer.quote
    kept = [quote(n) for n in names if allowed(clean_header(n))] or ["1 AS no_granted_column"]
    return f"SELECT {', '.join(kept)} FROM ({inner}) AS mofang_q", names


def _granted_table(conn: Any, table: str, allowed: Granted, label: str) -> tuple[list[str], Any]:
    """The table's column names and a SELECT of only its granted columns (no reflection of the rest)."""
    import sqlalchemy as sa
    from sqlalchemy.exc import SQLAlchemyError

    schema, _, name = table.rpartition(".")
    inspector = sa.inspect(conn)
    if not inspector.has_table(name, schema=schema or None):
        tables = inspector.get_table_names(schema=schema or None)
        close = difflib.get_close_matches(name, tables, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        listed = ", ".join(tables[:20]) or "none"
        raise DataError(f"no table '{table}'{hint} (tables: {listed})", source=label)
    try:
        names = [c["name"] for c in inspector.get_columns(name, schema=schema or None)]
    except SQLAlchemyError:  # MySQL/MariaDB refuse SHOW CREATE TABLE to a user with column privileges only
        conn.rollback()
        names = _visible_columns(conn, schema, name)
    kept = [n for n in names if allowed(clean_header(n))]
    columns = [sa.column(n) for n in kept] or [sa.literal_column("1").label("no_granted_column")]
    return names, sa.select(*columns).select_from(sa.table(name, schema=schema or None))


def _visible_columns(conn: Any, schema: str, name: str) -> list[str]:
    """Column names from information_schema (which lists only the columns this user may see)."""
    from sqlalchemy import text

    in_schema = "table_schema = :schema" if schema else "table_schema = DATABASE()"
    rows = conn.execute(text("SELECT column_name FROM information_schema.columns WHERE table_name = :name AND "
                             f"{in_schema} ORDER BY ordinal_position"), {"name": name, "schema": schema})
    return [row[0] for row in rows]
