"""How the score grows with labels: replayed active-learning rounds for the report of a text order with few
labels, and what labeling more would buy.

The order's own labelled rows (train + valid) are the pool; labeling is replayed on them — a random seed set,
then batches chosen by margin uncertainty or at random — with the built-in character TF-IDF model, and each
round is scored by macro-F1 on the order's test split. The curve tells a customer whether more labels still
pay (is it still rising at the right edge?) and how much uncertainty sampling saves over labeling at random.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from mofang.core.plots import bilingual
from mofang.models.active import (
    char_tfidf_fit_predict,
    curve_area,
    labels_to_reach,
    learning_curve_plot,
    simulate_rounds,
)

FEW_LABELS = 5_000  # an order with at most this many labelled rows gets the curve (or any unlabelled rows)
MAX_POOL = 2_000  # labels replayed at most (the curve's right edge)
MAX_TEST = 2_000  # test rows scored per round at most
ROUNDS = 6
STRATEGIES = ("margin", "random")
CHEAP_S = 10.0  # a curve estimated under this is drawn even past the budget (less than the budget's noise)
REACH = 0.95  # "labels to reach 95 % of the score with every pool label"


def wanted(labelled: int, unlabelled: int, multi_label: bool) -> bool:
    """Whether the order has few labels (or rows still waiting for one): the curve is worth its seconds."""
    return not multi_label and labelled >= 40 and (labelled <= FEW_LABELS or unlabelled > 0)


def estimate_seconds(pool: pd.DataFrame, test: pd.DataFrame, text: Sequence[str], target: str, seed: int) -> float:
    """Seconds the whole replay should take, from one timed fit at the curve's right edge."""
    pool, test = _cap(pool, target, MAX_POOL, seed), _cap(test, target, MAX_TEST, seed)
    started = time.perf_counter()
    char_tfidf_fit_predict(_texts(pool, text), pool[target].astype(str).tolist(), _texts(test, text))
    # each strategy fits ROUNDS + 1 times on growing sets (mean size ~ half the pool; margin rounds also
    # score the rest of the pool)
    return (time.perf_counter() - started) * len(STRATEGIES) * (ROUNDS + 1) * 0.75


def learning_curve(pool: pd.DataFrame, test: pd.DataFrame, text: Sequence[str], target: str, seed: int,
                   unlabelled: int = 0) -> dict[str, Any]:
    """Replay labeling on `pool`, score on `test`: the curve's rows and its summary figures."""
    pool, test = _cap(pool, target, MAX_POOL, seed), _cap(test, target, MAX_TEST, seed)
    labels = pool[target].astype(str).tolist()
    classes = len(set(labels))
    seed_size = min(max(2 * classes, 20), len(pool) // 4)
    batch = max(1, (len(pool) - seed_size) // ROUNDS)
    rows = simulate_rounds(char_tfidf_fit_predict, _texts(pool, text), labels, seed_size, batch, ROUNDS,
                           test_texts=_texts(test, text), test_labels=test[target].astype(str).tolist(),
                           strategies=STRATEGIES, metric_fn=_macro_f1, seed=seed)
    final = {s: next(r["score"] for r in reversed(rows) if r["strategy"] == s) for s in STRATEGIES}
    top = max(final.values())
    reach = labels_to_reach(rows, REACH * top)
    last = [r for r in rows if r["strategy"] == "margin"][-2:]
    slope = (last[1]["score"] - last[0]["score"]) / max(1, last[1]["labels"] - last[0]["labels"]) * 100
    return {"rows": rows, "metric": "f1_macro", "pool": len(pool), "test": len(test), "seed_size": seed_size,
            "batch": batch, "rounds": ROUNDS, "final": final, "labels_to_reach": reach, "reach_share": REACH,
            "area": curve_area(rows), "slope_per_100": round(float(slope), 4), "unlabelled": int(unlabelled)}


def curve_plot(curve: dict[str, Any]) -> bytes:
    """The learning curve as a PNG: macro-F1 on test against labels, per strategy."""
    return learning_curve_plot(curve["rows"], metric=bilingual("测试集 macro-F1", "macro-F1 on test"),
                               title=bilingual(f"学习曲线：macro-F1 与标注量（标注池 {curve['pool']:,} 条）",
                                               f"Learning curve: macro-F1 vs labels ({curve['pool']:,} labelled pool)"))


def advice(curve: dict[str, Any], order_file: str | None) -> str:
    """One sentence on what labeling more would buy, for the report."""
    reach = curve["labels_to_reach"]
    saved = ""
    if reach.get("margin") and reach.get("random") and reach["margin"] < reach["random"]:
        saved = (f" Uncertainty sampling reached {curve['reach_share']:.0%} of the best score with "
                 f"{reach['margin']:,} labels, random labeling with {reach['random']:,}.")
    rising = curve["slope_per_100"] > 0.002
    trend = (f"The curve is still rising at its right edge (+{curve['slope_per_100']:.3f} macro-F1 per 100 labels): "
             "more labels should still pay." if rising else
             "The curve has flattened at its right edge: more labels of the same kind will add little.")
    waiting = ""
    if curve["unlabelled"]:
        command = f"mofang label export {order_file or 'ORDER.yaml'} --count 200"
        waiting = (f" {curve['unlabelled']:,} rows of the order's data have no label yet; `{command}` queues the ones "
                   "the model is least sure about for people to label.")
    return trend + saved + waiting


def _cap(frame: pd.DataFrame, target: str, limit: int, seed: int) -> pd.DataFrame:
    """At most `limit` rows, drawn at random (every class kept when it can be)."""
    frame = frame[frame[target].notna()].reset_index(drop=True)
    if len(frame) <= limit:
        return frame
    return frame.sample(n=limit, random_state=seed).reset_index(drop=True)


def _texts(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    values = frame[list(columns)].astype(object).where(frame[list(columns)].notna(), "")
    return ["\n".join(str(v) for v in row) for row in values.itertuples(index=False)]


def _macro_f1(y_true: Sequence[Any], y_pred: Sequence[Any]) -> float:
    return float(f1_score(np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str), average="macro",
                          zero_division=0))
