"""`mofang db current|upgrade`: the schema revision read without migrating, and an upgrade for operators only."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from mofang.cli import app
from mofang.security.identity import create_api_key, create_tenant
from mofang.store import MetaStore
from mofang.store.migrate import HEAD
from tests.store.test_migrations import previous_release


def cli(home: Path, *args: str, key: str = ""):
    return CliRunner().invoke(app, list(args), env={"MOFANG_HOME": str(home), "MOFANG_API_KEY": key,
                                                    "COLUMNS": "200"})


def test_current_reads_the_revision_and_upgrade_migrates(home: Path) -> None:
    assert "no database yet" in cli(home, "db", "current").output
    home.mkdir(parents=True)
    url = f"sqlite:///{home / 'mofang.db'}"
    previous_release(url)
    current = cli(home, "db", "current")
    assert current.exit_code == 0 and "made by a release before migrations" in current.output
    upgraded = cli(home, "db", "upgrade")  # the bootstrap operator of an install with no keys yet
    assert upgraded.exit_code == 0, upgraded.output
    assert f"adopted: no revision -> {HEAD}" in upgraded.output
    assert f"revision {HEAD} (this release's)" in cli(home, "db", "current").output
    assert "nothing to do" in cli(home, "db", "upgrade").output


def test_upgrade_is_for_operators(home: Path) -> None:
    meta = MetaStore()
    create_tenant(meta, "acme")
    _, ops = create_api_key(meta, tenant=None, user="ops", role="operator")
    _, member = create_api_key(meta, tenant="acme", user="ann", role="member")
    meta.dispose()
    refused = cli(home, "db", "upgrade", key=member)
    assert refused.exit_code == 2 and "operators only" in refused.output
    assert cli(home, "db", "upgrade", key=ops).exit_code == 0


def test_current_reports_an_unreachable_database(home: Path, monkeypatch) -> None:
    monkeypatch.setenv("MOFANG_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(app, ["db", "current"], env={"MOFANG_HOME": str(home)})
    assert result.exit_code == 2 and "cannot read the metadata store's revision" in result.output
