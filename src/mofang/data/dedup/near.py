"""Near-duplicate texts: MinHash + LSH candidates, verified by exact Jaccard, clustered with union-find."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from mofang.data.dedup.jaccard import pair_jaccard
from mofang.data.dedup.minhash import band_hashes, candidate_pairs
from mofang.data.dedup.shingles import content_text, shingle_hashes
from mofang.data.text.utf8 import string_array


@dataclass(frozen=True)
class MinHashSettings:
    """How texts are compared: character n-grams, MinHash size and LSH bands, and the Jaccard that counts."""

    ngram: int = 5
    num_perm: int = 128
    bands: int = 32
    threshold: float = 0.8
    seed: int = 0


@dataclass
class SimilarContents:
    """Verified similar pairs among the distinct contents of some rows."""

    row_content: np.ndarray  # per row: index of its distinct content, -1 when it has none (null or empty)
    pairs: np.ndarray  # (k, 2) content indices, i < j, Jaccard ≥ threshold
    jaccard: np.ndarray  # (k,)
    candidates: int  # pairs LSH proposed before verification


@dataclass
class NearDuplicates:
    """Per row, the row kept for its cluster (itself when it has no near duplicate)."""

    kept_row: np.ndarray
    candidates: int
    verified: int

    @property
    def keep(self) -> np.ndarray:
        return self.kept_row == np.arange(self.kept_row.size)

    def clusters(self) -> list[np.ndarray]:
        """Row positions of every cluster with more than one row, largest first, kept row first."""
        order = np.lexsort((np.arange(self.kept_row.size), self.kept_row != np.arange(self.kept_row.size),
                            self.kept_row))
        labels = self.kept_row[order]
        bounds = np.flatnonzero(np.diff(labels)) + 1
        groups = [g for g in np.split(order, bounds) if g.size > 1]
        return sorted(groups, key=lambda g: (-g.size, int(g[0])))


def similar_contents(texts: pa.Array | pa.ChunkedArray, settings: MinHashSettings) -> SimilarContents:
    """Group identical contents, MinHash the distinct ones, and keep LSH candidates that verify."""
    encoded = pc.dictionary_encode(content_text(texts))
    distinct = encoded.dictionary
    row_content = np.asarray(pc.fill_null(encoded.indices, -1), dtype=np.int64)
    filled = np.flatnonzero(np.asarray(pc.fill_null(pc.greater(pc.utf8_length(distinct), 0), False)))
    if filled.size < len(distinct):  # the empty content: not a near duplicate of anything
        remap = np.full(len(distinct), -1, dtype=np.int64)
        remap[filled] = np.arange(filled.size)
        row_content = np.where(row_content >= 0, remap[np.maximum(row_content, 0)], -1)
        distinct = distinct.take(pa.array(filled))
    if len(distinct) < 2:
        return SimilarContents(row_content, np.zeros((0, 2), np.int64), np.zeros(0), 0)
    hashes, offsets = shingle_hashes(distinct, settings.ngram)
    buckets = band_hashes(hashes, offsets, num_perm=settings.num_perm, bands=settings.bands, seed=settings.seed)
    pairs = candidate_pairs(buckets)
    jaccard = pair_jaccard(hashes, offsets, pairs)
    good = jaccard >= settings.threshold
    return SimilarContents(row_content, pairs[good], jaccard[good], len(pairs))


def find_near_duplicates(texts: pa.Array | pa.ChunkedArray, settings: MinHashSettings | None = None, *,
                         keep: Literal["first", "longest"] = "first") -> NearDuplicates:
    """Cluster rows whose texts are near duplicates (exact copies after normalization included) and pick the
    row each cluster keeps: the first, or the longest original text (ties: the first)."""
    settings = settings or MinHashSettings()
    texts = string_array(texts)
    similar = similar_contents(texts, settings)
    rows = similar.row_content.size
    contents = int(similar.row_content.max(initial=-1)) + 1
    graph = coo_matrix((np.ones(len(similar.pairs)), (similar.pairs[:, 0], similar.pairs[:, 1])),
                       shape=(contents, contents))
    _, component = connected_components(graph, directed=False)
    label = contents + np.arange(rows)  # rows without content stand alone
    has = similar.row_content >= 0
    label[has] = component[similar.row_content[has]]
    positions = np.arange(rows)
    if keep == "longest":
        length = np.asarray(pc.fill_null(pc.utf8_length(texts), 0), dtype=np.int64)
        order = np.lexsort((positions, -length, label))
    else:
        order = np.lexsort((positions, label))
    ordered = label[order]
    first = np.concatenate((ordered[:1] == ordered[:1], ordered[1:] != ordered[:-1]))
    kept_row = np.empty(rows, dtype=np.int64)
    kept_row[order] = order[first][np.cumsum(first) - 1]
    return NearDuplicates(kept_row, similar.candidates, len(similar.pairs))


def near_duplicates_across(train_texts: pa.Array | pa.ChunkedArray | list[str | None],
                           test_texts: pa.Array | pa.ChunkedArray | list[str | None], threshold: float = 0.8, *,
                           settings: MinHashSettings | None = None) -> list[tuple[int, int, float]]:
    """Test rows that are exact or near duplicates of training rows (a leakage check): for each such test row,
    (test index, index of its most similar training row, Jaccard), by test index; exact copies score 1.0."""
    base = settings or MinHashSettings()
    settings = MinHashSettings(base.ngram, base.num_perm, base.bands, threshold, base.seed)
    train, test = (string_array(pa.array(t, pa.string()) if isinstance(t, list) else t)
                   for t in (train_texts, test_texts))
    similar = similar_contents(pa.concat_arrays([train.cast(pa.large_string()), test.cast(pa.large_string())]),
                               settings)
    n_train = len(train)
    contents = int(similar.row_content.max(initial=-1)) + 1
    train_row = np.full(contents, -1, dtype=np.int64)  # the first training row holding each content
    train_content = similar.row_content[:n_train]
    has = np.flatnonzero(train_content >= 0)[::-1]
    train_row[train_content[has]] = has
    if not contents:
        return []
    # every (content, training row, score) link: exact copies score 1, verified pairs in both directions
    this = np.concatenate((np.arange(contents), similar.pairs[:, 0], similar.pairs[:, 1]))
    other = np.concatenate((np.arange(contents), similar.pairs[:, 1], similar.pairs[:, 0]))
    score = np.concatenate((np.ones(contents), similar.jaccard, similar.jaccard))
    linked = train_row[other] >= 0
    this, row, score = this[linked], train_row[other][linked], score[linked]
    order = np.lexsort((row, -score, this))  # per content: best score first, then the earliest training row
    first = np.concatenate(([True], this[order][1:] != this[order][:-1])) if order.size else order.astype(bool)
    best_row = np.full(contents, -1, dtype=np.int64)
    best_score = np.zeros(contents)
    best_row[this[order][first]], best_score[this[order][first]] = row[order][first], score[order][first]
    test_content = similar.row_content[n_train:]
    found = np.flatnonzero((test_content >= 0) & (best_row[np.maximum(test_content, 0)] >= 0))
    return [(int(t), int(best_row[test_content[t]]), float(best_score[test_content[t]])) for t in found]
