"""Leakage across the split: held-out rows that repeat (or nearly repeat) a training row."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from mofang.data.dedup import MinHashSettings, near_duplicates_across
from mofang.data.dedup.ops import ngram_for

NEAR = 0.8  # Jaccard of character n-grams above which a held-out text counts as a copy of a training text
EXAMPLES = 10


def held_out_copies(train: pd.DataFrame, held_out: pd.DataFrame, features: list[dict]) -> dict:
    """{"same_features": rows of held_out whose feature values all equal a training row's (reported: such
    rows are legitimate in tabular data, but many of them inflate test scores), "near_text": positions of
    held_out rows whose text features nearly copy a training row's (these are removed), with examples}."""
    names = [f["name"] for f in features]
    texts = [f["name"] for f in features if f["kind"] == "text"]
    keys = pd.util.hash_pandas_object(train[names].astype(str), index=False)
    same = pd.util.hash_pandas_object(held_out[names].astype(str), index=False).isin(set(keys))
    near: list[tuple[int, int, float]] = []
    if texts and len(train) and len(held_out):
        train_texts, held_texts = _joined(train, texts), _joined(held_out, texts)
        ngram = ngram_for(pa.array(train_texts + held_texts, pa.string()))
        near = near_duplicates_across(train_texts, held_texts, NEAR, settings=MinHashSettings(ngram=ngram))
    return {"same_features": int(same.sum()), "near_text": [t for t, _, _ in near],
            "examples": [{"held_out": t, "train": r, "jaccard": round(j, 3)} for t, r, j in near[:EXAMPLES]]}


def _joined(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    return frame[columns].fillna("").astype(str).agg("\n".join, axis=1).tolist()
