"""TextTrainer: the shared base of text-classification families (cached features, rows sized to the budget)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from mofang.models.features import FeaturePipeline
from mofang.models.text.cache import fit_features
from mofang.models.text.pipeline import TextPipeline
from mofang.models.trainers.base import Trainer

MIN_ROWS = 400  # never sample below this many training rows
FIRST_TRIAL_SHARE = 0.6  # features + the first trial should fit in this share of the family's budget
# a compact character TF-IDF shared by the families whose size grows with the vocabulary (LSA, LightGBM)
TFIDF_20K: dict[str, Any] = {"char_ngrams": (1, 2), "max_features": 20_000, "min_df": 3}


class TextTrainer(Trainer):
    """A text family. `chars_per_second` is its rough throughput (features + one fit) on one core of
    the development machine: when the training texts would take longer than the budget allows, a
    stratified sample of rows is used instead (recorded in the candidate's notes)."""

    mode = "text-sparse"
    chars_per_second: ClassVar[float | None] = None
    latency_reserve_s = 0.3  # one-row TF-IDF predictions take well under a millisecond

    def sample(self, features: list[dict[str, Any]], train: pd.DataFrame, y: np.ndarray, budget_s: float,
               seed: int) -> tuple[pd.DataFrame, np.ndarray, str]:
        if self.chars_per_second is None or len(train) <= MIN_ROWS:
            return train, y, ""
        chars = _text_chars(train, [f["name"] for f in features if f["kind"] == "text"])
        affordable = max(budget_s, 0.0) * FIRST_TRIAL_SHARE * self.chars_per_second
        if chars <= affordable:
            return train, y, ""
        rows = max(MIN_ROWS, int(len(train) * affordable / max(chars, 1)))
        if rows >= len(train):
            return train, y, ""
        keep = _stratified(y, rows, seed)
        note = (f"trained on {rows:,} of {len(train):,} rows ({chars / 1e6:.1f}M characters would not fit "
                f"{budget_s:.0f}s)")
        return train.iloc[keep].reset_index(drop=True), y[keep], note

    def featurize(self, features: list[dict[str, Any]], train: pd.DataFrame,
                  valid: pd.DataFrame) -> tuple[FeaturePipeline | TextPipeline, Any, Any]:
        pipeline = self.make_pipeline(features)
        if isinstance(pipeline, TextPipeline):
            return fit_features(pipeline, train, valid)
        return super().featurize(features, train, valid)


def _text_chars(frame: pd.DataFrame, columns: list[str]) -> int:
    return int(sum(frame[c].fillna("").astype(str).str.len().sum() for c in columns))


def _stratified(y: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """Positions of `rows` training rows, every class (or label combination) in proportion, at least
    one of each where possible."""
    rng = np.random.default_rng(seed)
    keys = np.asarray([hash(tuple(r)) for r in y]) if y.ndim == 2 else y
    share = rows / len(y)
    chosen = []
    for key in np.unique(keys):
        members = np.flatnonzero(keys == key)
        take = max(1, int(round(len(members) * share)))
        chosen.append(rng.choice(members, size=min(take, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))
