"""The learning curve of a text order with few labels: replayed rounds, summary figures and advice."""

from __future__ import annotations

import pandas as pd

from mofang.evaluation import learning
from tests.models.text_fixtures import news


def test_the_curve_replays_labeling_and_says_what_more_labels_buy() -> None:
    frame = news(700, seed=3)
    pool, test = frame.iloc[:500].reset_index(drop=True), frame.iloc[500:].reset_index(drop=True)
    curve = learning.learning_curve(pool, test, ["标题"], "类别", seed=1, unlabelled=120)
    strategies = {r["strategy"] for r in curve["rows"]}
    assert strategies == {"margin", "random"}
    for strategy in strategies:
        points = [r for r in curve["rows"] if r["strategy"] == strategy]
        assert len(points) == learning.ROUNDS + 1
        assert points[0]["labels"] == curve["seed_size"] and points[-1]["labels"] <= len(pool)
        assert [p["labels"] for p in points] == sorted(p["labels"] for p in points)
    assert curve["final"]["margin"] > 0.8  # four well-separated topics
    text = learning.advice(curve, "news.yaml")
    assert "120 rows" in text and "mofang label export news.yaml" in text
    assert learning.curve_plot(curve)[:8] == b"\x89PNG\r\n\x1a\n"


def test_only_orders_with_few_or_missing_labels_get_a_curve() -> None:
    assert learning.wanted(800, 0, False)
    assert learning.wanted(50_000, 10, False)  # rows still waiting for labels
    assert not learning.wanted(50_000, 0, False)
    assert not learning.wanted(800, 0, True)  # multi-label: not replayed
    assert not learning.wanted(20, 0, False)


def test_the_pool_is_capped_at_random() -> None:
    frame = pd.DataFrame({"t": [f"x{i}" for i in range(50)], "y": ["a", "b"] * 25})
    assert len(learning._cap(frame, "y", 10, seed=0)) == 10
    assert len(learning._cap(frame.assign(y=[None] * 5 + ["a", "b"] * 22 + ["a"]), "y", 100, seed=0)) == 45
