"""Deduplication: exact duplicates after normalization, MinHash near duplicates, and the leakage check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mofang.data.dedup import MinHashSettings, duplicate_of, find_near_duplicates, near_duplicates_across
from mofang.data.dedup.jaccard import pair_jaccard
from mofang.data.dedup.ops import ExactDedup, NearDedup
from mofang.data.dedup.shingles import shingle_hashes
from mofang.data.ops import ROW, OpContext, RecipeError
from tests.conftest import shared_dataset

FILLERS = "的了是在有和就不人都也很这"


def _waimai_sentences(count: int) -> list[str]:
    reviews = pd.read_csv(shared_dataset("text-classification/waimai_10k.csv"), encoding="utf-8-sig").review
    reviews = reviews.dropna().astype(str).str.strip()
    return sorted(set(reviews[reviews.str.len().between(60, 200)]))[:count]


def _perturb(text: str, rng: np.random.Generator) -> str:
    """One character edit plus format noise: Jaccard of 5-grams stays above 0.8 for texts of 60+ characters."""
    chars = list(text)
    at = int(rng.integers(len(chars)))
    chars[at] = FILLERS[rng.integers(len(FILLERS))]
    noisy = "".join(chars).replace("，", ",")
    return noisy[:5] + "  " + noisy[5:] + "！"


@pytest.fixture(scope="module")
def planted() -> tuple[list[str], np.ndarray]:
    """200 distinct real reviews, 100 of them with a perturbed copy; shuffled, with each row's source."""
    rng = np.random.default_rng(7)
    base = _waimai_sentences(200)
    texts = base + [_perturb(base[i], rng) for i in range(100)]
    source = np.concatenate([np.arange(200), np.arange(100)])
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], source[order]


def test_exact_duplicates_compare_normalized_text_and_keep_the_first():
    table = pa.table({"a": ["Ｈｅｌｌｏ  World", None, "hello world", "other", None], "b": [1, 2, 1, 1, 2]})
    assert duplicate_of(table, ["a", "b"]).tolist() == [0, 1, 0, 3, 1]
    assert duplicate_of(table, ["a", "b"], normalize=False).tolist() == [0, 1, 2, 3, 1]
    assert duplicate_of(table, ["b"]).tolist() == [0, 1, 0, 0, 1]


def test_dedupe_exact_operator_traces_groups_and_dropped_ids():
    table = pa.table({ROW: [1, 2, 3, 4], "id": ["a", "b", "c", "d"], "text": ["好吃！", "好吃!", "难吃", "好吃！"]})
    out, trace = ExactDedup()(table, OpContext(kinds={"text": "text"}, id_column="id"))
    assert out.column("id").to_pylist() == ["a", "c"]
    assert trace.dropped == 2 and trace.details["columns"] == ["text"]
    assert trace.dropped_rows == [{"row": "b", "reason": "exact duplicate of row a"},
                                  {"row": "d", "reason": "exact duplicate of row a"}]
    assert trace.details["largest_groups"] == [{"size": 3, "kept": "a", "dropped": ["b", "d"]}]
    out, _ = ExactDedup({"normalize": False})(table, OpContext(kinds={"text": "text"}, id_column="id"))
    assert out.num_rows == 3


def test_near_duplicates_recover_planted_copies_without_false_positives(planted):
    texts, source = planted
    found = find_near_duplicates(pa.array(texts))
    clusters = found.clusters()
    planted_pairs = {frozenset(np.flatnonzero(source == s)) for s in range(100)}
    found_pairs = [frozenset(c.tolist()) for c in clusters]
    assert all(len(set(source[list(c)])) == 1 for c in found_pairs)  # no cluster mixes different reviews
    recall = len(planted_pairs & set(found_pairs)) / len(planted_pairs)
    assert recall >= 0.9
    assert found.keep.sum() == len(texts) - len(found_pairs)


def test_near_duplicates_are_deterministic_for_a_seed(planted):
    texts, _ = planted
    first = find_near_duplicates(pa.array(texts), MinHashSettings(seed=3, num_perm=32, bands=16, threshold=0.5))
    again = find_near_duplicates(pa.array(texts), MinHashSettings(seed=3, num_perm=32, bands=16, threshold=0.5))
    assert np.array_equal(first.kept_row, again.kept_row) and first.candidates == again.candidates


def test_verification_uses_exact_jaccard_of_character_ngrams():
    values = pa.array(["abcdefgh", "abcdefgx", "ab", "zzzz", "abc"])
    hashes, offsets = shingle_hashes(values, 3)
    scores = pair_jaccard(hashes, offsets, np.array([[0, 1], [0, 2], [2, 2], [0, 3], [0, 4]]))
    assert scores.tolist() == pytest.approx([5 / 7, 0.0, 1.0, 0.0, 1 / 6])  # "ab" is shorter than n: one shingle


def test_keep_longest_keeps_the_longest_text_of_a_cluster():
    base = "这家店的外卖一直很好吃，送餐速度也快，包装很用心，下次还会再来点的"
    texts = pa.array([base, base + "！！真的", "完全不同的一句话，讲的是别的事情，和外卖没有关系"])
    assert find_near_duplicates(texts, keep="longest").kept_row.tolist() == [1, 1, 2]
    assert find_near_duplicates(texts).kept_row.tolist() == [0, 0, 2]


def test_dedupe_near_operator_drops_copies_and_traces_clusters(planted):
    texts, source = planted
    table = pa.table({ROW: np.arange(1, len(texts) + 1), "review": texts, "n": np.arange(len(texts))})
    out, trace = NearDedup()(table, OpContext(kinds={"review": "text", "n": "numeric"}))
    assert out.num_rows == len(texts) - trace.dropped and trace.dropped >= 90
    assert trace.details["verified_pairs"] >= 90 and trace.details["candidate_pairs"] >= trace.details[
        "verified_pairs"]
    biggest = trace.details["largest_groups"][0]
    assert biggest["size"] == 2 and len(biggest["dropped"]) == 1 and biggest["text"]
    assert trace.dropped_rows[0]["reason"].startswith("near duplicate of row ")
    with pytest.raises(RecipeError, match="multiple of bands"):
        NearDedup({"num_perm": 100, "bands": 32})


def test_leakage_check_finds_planted_test_rows(planted):
    texts, _ = planted
    train = _waimai_sentences(200)[:150]
    rng = np.random.default_rng(1)
    test = ["一段和训练集无关的全新评论，说的是快递包装破损的问题，客服态度也一般", _perturb(train[10], rng),
            train[20], None]
    leaks = near_duplicates_across(train, test, threshold=0.8)
    assert [(t, r) for t, r, _ in leaks] == [(1, 10), (2, 20)]
    assert 0.8 <= leaks[0][2] < 1.0 and leaks[1][2] == 1.0
