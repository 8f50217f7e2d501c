"""Okapi BM25 over analyzer terms with scipy sparse matrices: vectorised scores for a batch of queries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from mofang.tasks.retrieval.models.analyzer import TermAnalyzer


class BM25:
    """Okapi BM25 (`k1`, `b`) with the Lucene idf log(1 + (N - df + 0.5) / (df + 0.5)).

    `scores` divides each query's BM25 by its upper bound, sum over query terms of idf·(k1 + 1)·qtf, so a
    score lies in [0, 1): the ranking is Okapi's, and the value is comparable across queries (the share of
    the query's weight a passage matches), which the no-answer threshold and weighted fusion rely on.
    """

    name = "bm25"

    def __init__(self, k1: float = 1.2, b: float = 0.75, ngram_range: tuple[int, int] = (1, 2)) -> None:
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b, self.ngram_range = float(k1), float(b), tuple(ngram_range)

    def fit(self, texts: Sequence[str]) -> BM25:
        """Index `texts` (one passage each)."""
        if len(texts) == 0:
            raise ValueError("BM25 needs at least one passage to index")
        self.vectorizer_ = CountVectorizer(analyzer=TermAnalyzer(self.ngram_range), dtype=np.float32)
        try:
            tf = self.vectorizer_.fit_transform(list(texts)).tocsr()
        except ValueError:  # no terms at all (every passage blank)
            raise ValueError("BM25: the passages contain no indexable text") from None
        n_docs = tf.shape[0]
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        avg = float(lengths.mean()) or 1.0
        df = np.bincount(tf.indices, minlength=tf.shape[1])
        self.idf_ = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        norm = self.k1 * (1.0 - self.b + self.b * lengths / avg)
        rows = np.repeat(np.arange(n_docs), np.diff(tf.indptr))
        data = tf.data * (self.k1 + 1.0) / (tf.data + norm[rows]) * self.idf_[tf.indices]
        weights = sp.csr_matrix((data.astype(np.float32), tf.indices, tf.indptr), shape=tf.shape)
        self.weights_t_ = weights.T.tocsr()  # terms × passages: a query row times this is its scores
        self.n_docs_ = n_docs
        return self

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Bounded BM25 of every query against every passage, shape (len(queries), n_docs), float32."""
        q = self.vectorizer_.transform(list(queries))
        raw = np.asarray((q @ self.weights_t_).todense(), dtype=np.float32)
        bound = np.asarray(q @ (self.idf_ * (self.k1 + 1.0))).ravel()
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = raw / bound[:, None]
        return np.where(bound[:, None] > 0, scaled, 0.0).astype(np.float32)

    @property
    def vocabulary_size(self) -> int:
        return len(self.vectorizer_.vocabulary_)

    def __repr__(self) -> str:
        return f"BM25(k1={self.k1}, b={self.b}, ngram_range={self.ngram_range})"


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the `k` best columns of each row, best first (k is capped at the row length)."""
    scores = np.atleast_2d(scores)
    k = max(1, min(int(k), scores.shape[1]))
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)
