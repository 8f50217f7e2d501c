"""The metadata store on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import pytest

from mofang.core.errors import NotFoundError
from mofang.store import ArtifactStore, MetaStore
from tests.conftest import postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, home) -> MetaStore:
    url = None if request.param == "sqlite" else postgres_url(fresh_schema=True)
    meta = MetaStore(url)
    yield meta
    meta.dispose()


def test_jobs_orders_and_products_round_trip(store: MetaStore) -> None:
    spec = {"id": "o1", "tenant": "acme", "task": "tabular-regression", "target": "价格"}
    first = store.register_job("acme", "o1", "tabular-regression", spec, "/x/order.yaml")
    second = store.register_job("acme", "o1", "tabular-regression", spec, "/x/order.yaml")
    assert second > first
    store.set_job(first, status="running")
    store.set_job(first, status="done", outcome={"verdict": "accepted"}, elapsed_s=3.5)
    job = store.job(first)
    assert job.status == "done" and job.started_at and job.finished_at and job.outcome["verdict"] == "accepted"
    record = store.order("o1")
    assert [j.id for j in record.jobs] == [first, second] and record.spec["target"] == "价格"

    assert store.add_product_version("acme", "o1", "tabular-regression", first, "/b/1", "d1", "lightgbm",
                                      {"rmse": 1.0}) == 1
    assert store.add_product_version("acme", "o1", "tabular-regression", second, "/b/2", "d2", "linear",
                                      {"rmse": 2.0}) == 2
    # delivering the same job again (a resumed delivery) does not add a version
    assert store.add_product_version("acme", "o1", "tabular-regression", second, "/b/2", "d2", "linear",
                                      {"rmse": 2.0}) == 2
    assert store.product_version("o1").version == 2
    assert store.product_version("o1", 1).model_family == "lightgbm"
    with pytest.raises(NotFoundError, match="no version 7"):
        store.product_version("o1", 7)
    with pytest.raises(NotFoundError, match="no product"):
        store.product_version("nope")
    with pytest.raises(NotFoundError, match="no job"):
        store.job(999_999)


def test_tenants_are_separate(store: MetaStore) -> None:
    store.register_job("a", "same-id", "tabular-regression", {}, None)
    store.register_job("b", "same-id", "tabular-regression", {}, None)
    assert len(store.orders("a")) == 1 and len(store.orders()) == 2
    with pytest.raises(NotFoundError, match="several tenants"):
        store.order("same-id")
    assert store.order("same-id", tenant="b").tenant_id == "b"


def test_artifacts_are_content_addressed(tmp_path, home) -> None:
    store = ArtifactStore(home)
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "a.txt").write_text("模坊", encoding="utf-8")
    digest, stored = store.put_dir("acme", "bundle", folder)
    again, stored_again = store.put_dir("acme", "bundle", folder)
    assert digest == again and stored == stored_again
    assert stored.is_relative_to(home / "tenants" / "acme") and (stored / "a.txt").read_text("utf-8") == "模坊"
    (folder / "a.txt").write_text("changed", encoding="utf-8")
    assert store.put_dir("acme", "bundle", folder)[0] != digest
