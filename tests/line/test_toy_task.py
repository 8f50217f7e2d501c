"""A task added in one place: a toy task registered here, in the tests — its spec and one candidate family —
runs down the whole line (ingest, train, evaluate, gate, deliver) and is served, with no unit code knowing it.

It is what docs/ARCHITECTURE.md's "How to add a task" describes, followed step by step."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.neighbors import KNeighborsClassifier
from typer.testing import CliRunner

from mofang.cli import app
from mofang.core.tasks import TaskSpec, register, unregister
from mofang.models.registry import TRAINERS, trainer
from mofang.models.trainers.base import Trainer

TOY = "toy-neighbours"
ORDER = f"""\
id: toy-order
tenant: toy-tenant
task: {TOY}
data:
  path: points.csv
target: kind
acceptance:
  metrics:
    accuracy: ">= 0.8"
budget:
  minutes: 0.4
"""


class Neighbours(Trainer):
    """The toy task's only family: k nearest neighbours on the scaled numeric features."""

    mode = "linear"

    def build(self, params: dict[str, Any], seed: int) -> Any:
        return KNeighborsClassifier(n_neighbors=7)


@pytest.fixture()
def toy_task() -> Iterator[TaskSpec]:
    """Step 1 and 2 of "how to add a task": the spec, registered, and a candidate family for it."""
    spec = TaskSpec(name=TOY, description="which cluster a point belongs to",
                    metrics={"accuracy": "higher", "f1_macro": "higher"}, classes=True,
                    recipe="tabular-classification")  # the shared tabular recipe suits its rows
    register(spec)
    trainer(TOY, "neighbours")(Neighbours)
    try:
        yield spec
    finally:
        unregister(TOY)
        TRAINERS.pop(TOY, None)


def points(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Three well separated clusters of 2-D points, with a noise column the model may ignore."""
    rng = np.random.default_rng(seed)
    centres = {"north": (0.0, 4.0), "east": (4.0, 0.0), "west": (-4.0, 0.0)}
    kinds = rng.choice(list(centres), size=n)
    xy = np.array([centres[k] for k in kinds]) + rng.normal(0, 0.8, size=(n, 2))
    return pd.DataFrame({"x": xy[:, 0].round(3), "y": xy[:, 1].round(3), "noise": rng.normal(size=n).round(3),
                         "kind": kinds})


def test_a_toy_task_runs_down_the_line_and_is_served(toy_task: TaskSpec, tmp_path: Path, home: Path) -> None:
    from mofang.products.server import running_server
    from mofang.store import MetaStore

    points().to_csv(tmp_path / "points.csv", index=False)
    (tmp_path / "order.yaml").write_text(ORDER, encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "order.yaml")])
    assert result.exit_code == 0, result.output
    meta = MetaStore()
    try:
        version = meta.product_version("toy-order", tenant="toy-tenant")
        job = meta.job(version.job_id)
        assert job.status == "done" and job.outcome["verdict"] == "accepted", job.outcome
        assert version.model_family == "neighbours" and version.metrics["accuracy"] >= 0.8
        listing = CliRunner().invoke(app, ["jobs", "list"])
        assert listing.exit_code == 0 and "toy-order" in listing.output and "done" in listing.output
        with running_server(version) as url:
            rows = [{"x": 0.1, "y": 4.2, "noise": 0.0}, {"x": 3.9, "y": -0.2, "noise": 1.0}]
            answer = httpx.post(f"{url}/predict", json={"rows": rows}, timeout=30)
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == ["north", "east"]
            assert httpx.get(f"{url}/metrics", timeout=30).status_code == 200
    finally:
        meta.dispose()
