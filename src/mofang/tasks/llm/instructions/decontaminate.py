"""Decontamination: drop training rows whose prompt is an exact or near duplicate of a held-out prompt.

Near duplicates are found by character n-gram Jaccard similarity with prefix filtering (an inverted index over
the rarest n-grams of each held-out prompt; candidates are verified by exact Jaccard), so no pair above the
threshold is missed and 10k x 2k rows take well under a second of index work.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict

import numpy as np
import pandas as pd

from mofang.core.errors import MofangError
from mofang.tasks.llm.instructions.frame import row_ids, sample

SHORT_PROMPT = 100  # below this median length (characters) prompts are compared by 3-grams
_NOT_WORD = re.compile(r"[\W_]+")


def decontaminate(train: pd.DataFrame, held_out: pd.DataFrame, *, threshold: float = 0.8, n: int | None = None,
                  ) -> tuple[pd.DataFrame, dict]:
    """`train` without rows whose prompt matches a held-out prompt: equal after normalisation (NFKC, lower case,
    whitespace and punctuation removed), or with character n-gram Jaccard >= `threshold`. `n` defaults to 5,
    or 3 when the median normalised prompt is shorter than SHORT_PROMPT characters. Info: counts of exact and
    near duplicates, the n used, and a sample of (train row, held-out row, jaccard)."""
    if not 0 < threshold <= 1:
        raise MofangError(f"the decontamination threshold must be in (0, 1], got {threshold}")
    for name, frame in (("training", train), ("held-out", held_out)):
        if "prompt" not in frame.columns:
            raise MofangError(f"the {name} data has no 'prompt' column; convert it to instruction rows first")
    train_norm = [normalize(p) for p in train["prompt"].tolist()]
    held_norm = [normalize(p) for p in held_out["prompt"].tolist()]
    if n is None:
        lengths = [len(p) for p in train_norm + held_norm if p]
        n = 3 if not lengths or float(np.median(lengths)) < SHORT_PROMPT else 5
    if n < 1:
        raise MofangError(f"the n-gram size must be at least 1, got {n}")
    exact_index = {p: j for j, p in reversed(list(enumerate(held_norm))) if p}
    matches: dict[int, tuple[int, float, str]] = {}
    for i, p in enumerate(train_norm):
        if p in exact_index:
            matches[i] = (exact_index[p], 1.0, "exact")
    near = near_duplicates(train_norm, held_norm, threshold=threshold, n=n, skip=set(matches))
    for i, (j, score) in near.items():
        matches[i] = (j, score, "near")
    dropped = sorted(matches)
    shown = sample(dropped)
    train_ids, held_ids = row_ids(train, shown), row_ids(held_out, [matches[i][0] for i in shown])
    kinds = Counter(kind for _, _, kind in matches.values())
    info = {"rows_in": len(train), "rows": len(train) - len(dropped), "held_out": len(held_out),
            "exact": kinds["exact"], "near": kinds["near"], "threshold": threshold, "n": n,
            "dropped_rows": [{"row": t, "held_out_row": h, "jaccard": round(matches[i][1], 4), "kind": matches[i][2]}
                             for i, t, h in zip(shown, train_ids, held_ids, strict=True)]}
    keep = np.ones(len(train), dtype=bool)
    keep[dropped] = False
    return train[keep].reset_index(drop=True), info


def normalize(text: object) -> str:
    """NFKC, lower case, without whitespace, punctuation or symbols."""
    if not isinstance(text, str):
        return ""
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).lower())


def ngrams(text: str, n: int) -> frozenset[str]:
    """Character n-grams of `text`; a text shorter than n is its own single gram."""
    if len(text) <= n:
        return frozenset({text}) if text else frozenset()
    return frozenset(text[i:i + n] for i in range(len(text) - n + 1))


def near_duplicates(left: list[str], right: list[str], *, threshold: float, n: int,
                    skip: set[int] | None = None) -> dict[int, tuple[int, float]]:
    """For each index of `left` (not in `skip`) with some `right` text at n-gram Jaccard >= threshold: the
    index of its most similar right text and the Jaccard (exact, after prefix-filtered candidates)."""
    skip = skip or set()
    left_sets = [ngrams(t, n) if i not in skip else frozenset() for i, t in enumerate(left)]
    right_sets = [ngrams(t, n) for t in right]
    frequency = Counter(g for s in right_sets for g in s)
    rank = {g: (count, g) for g, count in frequency.items()}  # rarest first; grams only in left sort first

    def prefix(grams: frozenset[str]) -> list[str]:
        ordered = sorted(grams, key=lambda g: rank.get(g, (0, g)))
        return ordered[:len(grams) - math.ceil(threshold * len(grams) - 1e-9) + 1]

    index: dict[str, list[int]] = defaultdict(list)
    for j, grams in enumerate(right_sets):
        for g in prefix(grams):
            index[g].append(j)
    found: dict[int, tuple[int, float]] = {}
    for i, grams in enumerate(left_sets):
        if not grams:
            continue
        size = len(grams)
        candidates = {j for g in prefix(grams) for j in index.get(g, ())}
        best: tuple[int, float] | None = None
        for j in sorted(candidates):
            other = right_sets[j]
            if not threshold * size <= len(other) * (1 + 1e-9) or not threshold * len(other) <= size * (1 + 1e-9):
                continue
            shared = len(grams & other)
            score = shared / (size + len(other) - shared)
            if score >= threshold - 1e-12 and (best is None or score > best[1]):
                best = (j, score)
        if best is not None:
            found[i] = best
    return found
