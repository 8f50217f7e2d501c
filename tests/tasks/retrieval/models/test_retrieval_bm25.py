"""BM25 over character n-grams: terms, exact Okapi scores, ranking a small Chinese FAQ, top-k."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mofang.tasks.retrieval.models import BM25, top_k
from mofang.tasks.retrieval.models.analyzer import TermAnalyzer
from tests.tasks.retrieval.models.retrieval_fixtures import FAQ


def test_analyzer_uses_ngrams_for_cjk_and_words_for_latin():
    assert TermAnalyzer((1, 2))("高血压，DNA检查") == ["高", "血", "压", "高血", "血压", "dna", "检", "查", "检查"]
    assert TermAnalyzer((2, 3))("ＡＢＣ 肝炎") == ["abc", "肝炎"]  # NFKC folds full-width letters
    assert TermAnalyzer((2, 3))("肝") == ["肝"]  # a run shorter than the n-gram still counts
    with pytest.raises(ValueError):
        TermAnalyzer((2, 1))


def test_scores_are_okapi_bm25_divided_by_the_query_bound():
    docs = ["apple banana", "apple apple cherry", "durian"]
    model = BM25(k1=1.2, b=0.75).fit(docs)
    n, lengths, avg = 3, [2, 3, 1], 2.0
    idf_apple = math.log(1 + (n - 2 + 0.5) / (2 + 0.5))
    idf_cherry = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))

    def term(tf: int, length: int, idf: float) -> float:
        return idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * length / avg))

    bound = (idf_apple + idf_cherry) * 2.2
    expected = [term(1, lengths[0], idf_apple) / bound,
                (term(2, lengths[1], idf_apple) + term(1, lengths[1], idf_cherry)) / bound, 0.0]
    assert model.scores(["apple cherry"])[0] == pytest.approx(expected, rel=1e-5)
    assert model.scores(["zzz unknown"]).tolist() == [[0.0, 0.0, 0.0]]  # no known term: all zero


def test_bm25_ranks_the_right_faq_entry_for_paraphrased_chinese_questions():
    passages = [f"{q} {a}" for q, _, _, a in FAQ]
    model = BM25().fit(passages)
    index, scores = top_k(model.scores([asked for _, asked, _, _ in FAQ]), 3)
    assert (index[:, 0] == np.arange(len(FAQ))).mean() >= 0.9
    assert (index == np.arange(len(FAQ))[:, None]).any(axis=1).all()  # every one in the first 3
    assert np.all(np.diff(scores, axis=1) <= 0) and np.all((scores >= 0) & (scores < 1))


def test_top_k_caps_k_and_orders_best_first():
    index, scores = top_k(np.array([[0.1, 0.9, 0.5]]), 10)
    assert index.tolist() == [[1, 2, 0]] and scores[0].tolist() == pytest.approx([0.9, 0.5, 0.1])
    with pytest.raises(ValueError, match="no indexable text"):
        BM25().fit(["", "  "])
