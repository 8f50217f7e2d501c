"""Shared fixtures: an isolated MOFANG_HOME with SQLite, and a station context factory."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


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
    from mofang.line import SilentProgress, StationContext

    def factory(order, station: str = "test"):
        job_id = meta.register_job(order.tenant, order.id, order.task.value,
                                   order.model_dump(mode="json"), None)
        ctx = StationContext(job_id=job_id, order=order, meta=meta, artifacts=artifacts,
                             progress=SilentProgress(), budget_used_s=0.0)
        ctx.station = station
        return ctx

    return factory


def shared_dataset(relative: str) -> Path:
    """A file of ../shared/datasets, or skip the test when this machine lacks it."""
    path = SHARED_DATASETS / relative
    if not path.exists():
        pytest.skip(f"shared dataset {relative} is not on this machine")
    return path
