"""SMOTE-NC oversampling: class balance after, lineage of every row, seeds that really are the parents."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from mofang.data.augment.lineage import PARENT, SYNTHETIC
from mofang.data.augment.smote import Smote
from mofang.data.ops import ROW, OpContext

KINDS = {"x": "numeric", "y": "numeric", "city": "categorical", "note": "text", "cid": "identifier"}


def _clustered(seed: int = 0) -> pa.Table:
    """300 majority rows around the origin and 30 minority rows in three far-apart tight clusters,
    so a generated row must lie in its seed's cluster."""
    rng = np.random.default_rng(seed)
    centres = np.repeat([[100.0, 0.0], [0.0, 100.0], [-100.0, -100.0]], 10, axis=0)
    minority = centres + rng.normal(0, 1, (30, 2))
    majority = rng.normal(0, 5, (300, 2))
    points = np.vstack([majority, minority])
    x = points[:, 0].copy()
    x[[0, 312]] = np.nan  # a majority row and a minority row of the cluster at x≈0 (near the imputed median)
    n = len(points)
    return pa.table({ROW: np.arange(10, 10 + n), "cid": [f"C{i}" for i in range(n)],
                     "x": pa.array(x, from_pandas=True), "y": points[:, 1],
                     "city": rng.choice(["北京", "上海"], n).tolist(), "note": [f"n{i}" for i in range(n)],
                     "label": ["ok"] * 300 + ["fraud"] * 30})


def test_minority_grows_to_the_target_ratio_and_offspring_stay_near_their_parents():
    table = _clustered()
    ctx = OpContext(task="tabular-classification", target="label", id_column="cid", kinds=KINDS, seed=1)
    out, trace = Smote({"target_ratio": 0.5, "k_neighbors": 5})(table, ctx)
    assert out.schema.remove(out.schema.get_field_index(PARENT)).remove(
        out.schema.get_field_index(SYNTHETIC)) == table.schema
    assert trace.details["counts_after"] == {"ok": 300, "fraud": 150} and trace.details["method"] == "SMOTE-NC"
    frame = out.to_pandas()
    real, synthetic = frame[~frame[SYNTHETIC]], frame[frame[SYNTHETIC]]
    assert (real[PARENT] == real[ROW]).all() and len(synthetic) == 120
    assert synthetic[ROW].min() == table.column(ROW).to_numpy().max() + 1 and synthetic[ROW].is_unique
    assert synthetic["cid"].isna().all() and set(synthetic["city"]) <= {"北京", "上海"}
    parents = frame.set_index(ROW).loc[synthetic[PARENT]]
    assert (parents["label"].to_numpy() == "fraud").all()
    assert (parents["note"].to_numpy() == synthetic["note"].to_numpy()).all()  # text copied from the seed
    distance = np.hypot(parents["x"].fillna(0).to_numpy() - synthetic["x"].fillna(0).to_numpy(),
                        parents["y"].to_numpy() - synthetic["y"].to_numpy())
    assert distance.max() < 20  # the clusters are ~140 apart: each row comes from its recorded seed's cluster
    assert synthetic["x"].isna().sum() == (parents["x"].isna()).sum() > 0  # missing where the seed's was


def test_same_seed_same_rows_and_max_new_rows_caps():
    ctx = OpContext(task="tabular-classification", target="label", kinds=KINDS, seed=3)
    first, _ = Smote()(_clustered(), ctx)
    second, _ = Smote()(_clustered(), ctx)
    assert first.equals(second)
    capped, trace = Smote({"max_new_rows": 40})(_clustered(), ctx)
    assert capped.num_rows == 330 + 40 and trace.details["added"] == 40


def test_skips_when_balanced_enough_or_not_classification():
    table = _clustered()
    out, trace = Smote({"target_ratio": 0.05})(table, OpContext(task="tabular-classification", target="label",
                                                                 kinds=KINDS))
    assert out is table and "already balanced" in trace.details["note"]
    out, trace = Smote()(table, OpContext(task="tabular-regression", target="y", kinds=KINDS))
    assert out is table and trace.details["note"].startswith("skipped: SMOTE needs a classification task")
