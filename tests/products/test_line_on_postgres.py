"""The whole line with its metadata in PostgreSQL (MOFANG_DB_URL), not the default SQLite."""

from __future__ import annotations

import pytest

from mofang.demo import write_demo
from mofang.line import run
from mofang.orders import load_order
from mofang.scheduling.admission import admit as submit
from mofang.store import MetaStore
from tests.conftest import postgres_url


@pytest.mark.slow
@pytest.mark.postgres
def test_demo_order_on_postgres(tmp_path, home, monkeypatch) -> None:
    url = postgres_url(fresh_schema=True)
    monkeypatch.setenv("MOFANG_DB_URL", url)
    meta = MetaStore()
    assert meta.engine.dialect.name == "postgresql"
    order = write_demo(tmp_path, rows=1500, minutes=0.3)
    job = run(submit(load_order(order), meta, source_file=order), meta=meta)
    assert job.status == "done", (job.error, job.outcome)
    record = meta.order("loan-default-demo")
    processes = [p.name for station in record.jobs[0].stations for p in station.processes]
    assert processes[:4] == ["ingest", "profile", "normalize", "clean"] and processes[-1] == "register"
    assert meta.product_version("loan-default-demo").version == 1
    assert not (home / "mofang.db").exists()  # nothing went to the SQLite default
    meta.dispose()
