"""Label noise (confident learning) and class balance: planted label flips are found, skips say why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from mofang.data.ops import ROW, OpContext
from mofang.data.quality.balance import ClassBalance
from mofang.data.quality.confident import find_label_issues
from mofang.data.quality.label_noise import LabelNoise
from tests.conftest import shared_dataset


def _flip(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    flipped = rng.choice(labels.size, int(share * labels.size), replace=False)
    classes = np.unique(labels)
    out = labels.copy()
    for i in flipped:
        out[i] = rng.choice(classes[classes != labels[i]])
    return out, flipped


def _precision_recall(trace_rows: list[int], flipped_rows: np.ndarray) -> tuple[float, float]:
    hits = np.isin(trace_rows, flipped_rows).sum()
    return hits / max(len(trace_rows), 1), hits / flipped_rows.size


def test_find_label_issues_reads_the_off_diagonal_of_the_confident_joint():
    given = np.array([0, 0, 0, 1, 1, 1])
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.7, 0.3]])
    issues = find_label_issues(given, probabilities)
    assert issues.thresholds.round(3).tolist() == [0.6, 0.6]
    assert issues.positions.tolist() == [2, 5]  # the clearest contradiction first
    assert issues.suggested.tolist() == [1, 0]
    assert issues.joint.tolist() == [[2, 1], [1, 2]]


def test_flipped_review_labels_are_recovered():
    reviews = pd.read_csv(shared_dataset("text-classification/waimai_10k.csv")).dropna()
    pool = reviews.sample(3600, random_state=7).reset_index(drop=True)
    ctx = OpContext(task="text-classification", target="label", kinds={"review": "text"}, seed=7)
    # the corpus has label errors of its own: leave out what the detector doubts before planting flips,
    # so that precision measures the planted flips and not the corpus's own noise
    doubted = _suspect_rows(_table(pool.review, pool.label.astype(str)), ctx)
    clean = pool[~(pool.index + 1).isin(doubted)].head(3000).reset_index(drop=True)
    labels, flipped = _flip(clean.label.astype(str).to_numpy(), 0.05, seed=7)
    suspects = _suspect_rows(_table(clean.review, labels), ctx)
    precision, recall = _precision_recall(suspects, flipped + 1)
    assert precision >= 0.5 and recall >= 0.5, (precision, recall)


def test_drop_removes_at_most_the_allowed_share_most_suspicious_first():
    frame, labels, flipped = _synthetic_loans(1000, seed=3)
    ctx = OpContext(task="tabular-classification", target="status", seed=3,
                    kinds={"income": "numeric", "debt": "numeric", "city": "categorical"})
    table = pa.table({ROW: np.arange(1, len(frame) + 1), **{c: frame[c] for c in frame}, "status": labels})
    out, trace = LabelNoise({"action": "drop", "max_drop_share": 0.02})(table, ctx)
    assert trace.dropped == 20 and out.num_rows == 980
    dropped = [d["row"] for d in trace.dropped_rows]
    assert np.isin(dropped, flipped + 1).mean() >= 0.9
    assert "looks like" in trace.dropped_rows[0]["reason"]


def test_tabular_flips_are_flagged_with_the_data_unchanged():
    frame, labels, flipped = _synthetic_loans(3000, seed=5)
    ctx = OpContext(task="tabular-classification", target="status", seed=5,
                    kinds={"income": "numeric", "debt": "numeric", "city": "categorical"})
    table = pa.table({ROW: np.arange(1, len(frame) + 1), **{c: frame[c] for c in frame}, "status": labels})
    out, trace = LabelNoise()(table, ctx)
    assert out is table
    precision, recall = _precision_recall(_suspect_rows(table, ctx), flipped + 1)
    assert precision >= 0.7 and recall >= 0.7, (precision, recall)
    top = trace.details["top_suspects"][0]
    assert top["row"] in flipped + 1 and top["given"] != top["suggested"] and 0.5 < top["confidence"] <= 1
    assert set(trace.details["noise_rate"]) == {"good", "bad"}


def test_label_noise_skips_regression_and_tiny_classes():
    table = pa.table({ROW: np.arange(1, 101), "x": np.arange(100.0), "y": ["a"] * 97 + ["b"] * 3})
    _, trace = LabelNoise()(table, OpContext(task="tabular-regression", target="x"))
    assert "classification" in trace.details["note"]
    _, trace = LabelNoise()(table, OpContext(task="tabular-classification", target="y", kinds={"x": "numeric"}))
    assert trace.details["note"].startswith("skipped: fewer than 2 classes")


def test_balance_reports_counts_ratio_and_minorities():
    table = pa.table({ROW: np.arange(1, 13), "y": ["a"] * 6 + ["b"] * 4 + ["c"] + [None]})
    out, trace = ClassBalance()(table, OpContext(task="tabular-classification", target="y"))
    assert out is table
    assert trace.details["counts"] == {"a": 6, "b": 4, "c": 1} and trace.details["missing_labels"] == 1
    assert trace.details["imbalance_ratio"] == 6.0 and trace.details["minority_classes"] == ["c"]
    _, trace = ClassBalance()(table, OpContext(task="tabular-regression", target="y"))
    assert trace.details["note"].startswith("skipped")


def _table(texts: pd.Series, labels: np.ndarray | pd.Series) -> pa.Table:
    return pa.table({ROW: np.arange(1, len(texts) + 1), "review": list(texts), "label": list(labels)})


def _suspect_rows(table: pa.Table, ctx: OpContext) -> np.ndarray:
    """Every suspect's row number (the trace lists only the top ones): drop them all and see which rows went."""
    out, trace = LabelNoise({"action": "drop", "max_drop_share": 1.0})(table, ctx)
    gone = np.setdiff1d(table.column(ROW).to_numpy(), out.column(ROW).to_numpy())
    assert gone.size == trace.details["suspects"]
    return gone


def _synthetic_loans(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"income": rng.normal(10, 3, n), "debt": rng.normal(5, 2, n),
                          "city": rng.choice(["北京", "上海", "广州"], n)})
    frame.loc[rng.choice(n, n // 20, replace=False), "income"] = np.nan
    score = frame.debt.to_numpy() * 2 - frame.income.fillna(10).to_numpy() + (frame.city == "广州") * 2
    labels = np.where(score > 0, "bad", "good")
    flipped_labels, flipped = _flip(labels, 0.05, seed)
    return frame, flipped_labels, flipped
