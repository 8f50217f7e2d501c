"""MariaDB sources: tables and queries, granted columns only, utf8mb4 Chinese text, clear errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from mofang.core.errors import DataError
from mofang.data import read_source
from mofang.orders import Source
from tests.conftest import mariadb_url

pytestmark = pytest.mark.mariadb
ROWS = [("甲", 1, "110101199001011234"), ("乙😀𠀀", 2, "x"), ("臺灣", None, None)]


def granted(column: str) -> bool:
    return column != "身份证号"


@pytest.fixture(scope="module")
def admin() -> Iterator[str]:
    url = mariadb_url()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS mofang_grants"))
        conn.execute(sa.text("CREATE TABLE mofang_grants (`客户` varchar(20), `收入` int, `身份证号` varchar(20)) "
                             "CHARACTER SET utf8mb4"))
        conn.execute(sa.text("INSERT INTO mofang_grants VALUES (:a, :b, :c)"),
                     [dict(zip("abc", row, strict=True)) for row in ROWS])
    yield url
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS mofang_grants"))
    engine.dispose()


@pytest.fixture()
def statements() -> Iterator[list[str]]:
    """Every SQL statement sent to any database while the test runs."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        sent.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    yield sent
    sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)


def test_utf8mb4_table_and_query(admin: str) -> None:
    frame = read_source(Source(url=admin, table="mofang_grants"))
    assert frame.to_dict("list") == {"客户": ["甲", "乙😀𠀀", "臺灣"], "收入": ["1", "2", None],
                                     "身份证号": ["110101199001011234", "x", None]}
    query = read_source(Source(url=admin, query="SELECT `客户` FROM mofang_grants WHERE `收入` > 1;"))
    assert query["客户"].tolist() == ["乙😀𠀀"]


def test_denied_column_is_never_selected(admin: str, statements: list[str]) -> None:
    table = read_source(Source(url=admin, table="mofang_grants"), granted=granted)
    query = read_source(Source(url=admin, query="SELECT * FROM mofang_grants"), granted=granted)
    for frame in (table, query):
        assert list(frame.columns) == ["客户", "收入"] and frame.attrs["source"]["denied"] == ["身份证号"]
    assert statements and not [s for s in statements if "身份证号" in s]


def test_reader_with_column_privileges(admin: str) -> None:
    """A user with SELECT on two columns only reads the table; the database refuses it the third."""
    engine = sa.create_engine(admin)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE USER IF NOT EXISTS 'mofang_reader'@'%'"))
        conn.execute(sa.text("REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'mofang_reader'@'%'"))
        conn.execute(sa.text("GRANT SELECT (`客户`, `收入`) ON mofang_grants TO 'mofang_reader'@'%'"))
    engine.dispose()
    reader = admin.replace("//root@", "//mofang_reader@")
    frame = read_source(Source(url=reader, table="mofang_grants"), granted=granted)
    assert frame.to_dict("list") == {"客户": ["甲", "乙😀𠀀", "臺灣"], "收入": ["1", "2", None]}
    with pytest.raises(DataError, match="denied"):
        read_source(Source(url=reader, query="SELECT * FROM mofang_grants"))


def test_bad_table_and_database(admin: str) -> None:
    with pytest.raises(DataError, match="no table 'mofang_grant'; did you mean 'mofang_grants'"):
        read_source(Source(url=admin, table="mofang_grant"))
    with pytest.raises(DataError, match="database error"):
        read_source(Source(url=admin.replace("/test?", "/no_such_database_xyz?"), table="t"))
