"""The text robustness suite: each perturbation does what it says, deterministically; a report shows the drops."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from mofang.evaluation.robustness import (
    FULL_TO_HALF,
    HALF_TO_FULL,
    PERTURBATIONS,
    keyboard_neighbours,
    perturb,
    pinyin_in_context,
    robustness_plot,
    robustness_report,
    to_simplified,
    worst_drop,
)

CHINESE = "这家店的外卖送餐速度很快，味道也不错，下次还会再点。"
ENGLISH = "The food arrived cold, 3.5 stars. Delivery took ages!"
TEXTS = [CHINESE, ENGLISH, "很快，好吃，味道足，量大", "Great service and fast delivery"]
PUNCTUATION = set(FULL_TO_HALF) | set(HALF_TO_FULL) | set("…~")


def test_registry_holds_the_suite() -> None:
    assert set(PERTURBATIONS) >= {"typos", "homophones", "traditional", "punctuation", "whitespace", "truncation"}
    with pytest.raises(ValueError, match="unknown perturbation 'typo'.*typos"):
        perturb(TEXTS, "typo")


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_perturbations_are_deterministic_per_text(name: str) -> None:
    once = perturb(TEXTS, name, rate=0.2, seed=7)
    assert once == perturb(TEXTS, name, rate=0.2, seed=7)
    assert perturb(TEXTS[::-1], name, rate=0.2, seed=7) == once[::-1]  # a text's fate does not depend on the batch
    assert once[0] != CHINESE  # every perturbation changes Chinese text


def test_seed_and_rate_change_the_edits() -> None:
    runs = {perturb([CHINESE], "typos", rate=0.1, seed=s)[0] for s in range(6)}
    assert len(runs) > 3
    light, heavy = (perturb([CHINESE * 3], "typos", rate=r, seed=1)[0] for r in (0.05, 0.5))
    assert _edit_distance(light, CHINESE * 3) < _edit_distance(heavy, CHINESE * 3)


def test_typos_delete_duplicate_swap_and_hit_neighbour_keys() -> None:
    assert set(keyboard_neighbours()["g"]) == set("tyfhvb")
    for seed in range(20):
        chinese = perturb([CHINESE], "typos", rate=0.1, seed=seed)[0]
        assert chinese != CHINESE and set(chinese) <= set(CHINESE)  # no new character: only edits of the old
        assert sorted(chinese) != sorted(CHINESE) or len(chinese) == len(CHINESE)  # a swap keeps the multiset
        english = perturb([ENGLISH], "typos", rate=0.1, seed=seed)[0]
        new = set(english.lower()) - set(ENGLISH.lower())
        near = {n for c in ENGLISH.lower() for n in keyboard_neighbours().get(c, "")}
        assert new <= near
    assert perturb(["中"], "typos", seed=0)[0] == "中中"  # a one-character text is never emptied


def test_homophones_keep_the_pinyin() -> None:
    from pypinyin import Style, lazy_pinyin

    readings = pinyin_in_context(CHINESE)
    for seed in range(10):
        out = perturb([CHINESE], "homophones", rate=0.2, seed=seed)[0]
        changed = [i for i, (a, b) in enumerate(zip(CHINESE, out, strict=True)) if a != b]
        assert len(out) == len(CHINESE) and changed
        for i in changed:
            assert lazy_pinyin(out[i], style=Style.TONE3, neutral_tone_with_five=True) == [readings[i]]
    assert perturb([ENGLISH], "homophones")[0] == ENGLISH


def test_traditional_round_trips() -> None:
    traditional = perturb([CHINESE], "traditional")[0]
    assert traditional != CHINESE and "這" in traditional and "賣" in traditional
    assert perturb([traditional], "traditional")[0] == CHINESE == to_simplified(traditional)
    assert perturb([ENGLISH], "traditional")[0] == ENGLISH


def test_punctuation_only_touches_punctuation() -> None:
    strip = re.compile("[" + re.escape("".join(PUNCTUATION)) + "]")
    for seed in range(10):
        for text in TEXTS:
            out = perturb([text], "punctuation", rate=0.2, seed=seed)[0]
            assert out != text and strip.sub("", out) == strip.sub("", text)
    swapped = [perturb(["好吃，很快。"], "punctuation", rate=1.0, seed=s)[0] for s in range(10)]
    assert any("," in s or "." in s for s in swapped)  # full width became half width somewhere
    assert "3.5" in perturb([ENGLISH], "punctuation", rate=1.0)[0]  # numbers keep their point


def test_whitespace_and_truncation() -> None:
    for seed in range(10):
        out = perturb([CHINESE], "whitespace", rate=0.1, seed=seed)[0]
        assert out != CHINESE and re.sub(r"\s", "", out) == CHINESE
        english = perturb([ENGLISH], "whitespace", rate=0.3, seed=seed)[0]
        assert re.findall(r"\w+", english) == re.findall(r"\w+", ENGLISH) and "3.5" in english  # never in a word
    assert perturb(TEXTS, "truncation") == [t[:len(t) // 2] for t in TEXTS]


def test_report_of_a_tfidf_model_shows_drops() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score
    from sklearn.pipeline import make_pipeline

    train_x, train_y = _reviews(300, seed=1)
    test_x, test_y = _reviews(150, seed=2)
    model = make_pipeline(TfidfVectorizer(analyzer="char", ngram_range=(1, 3)), LogisticRegression(C=10))
    model.fit(train_x, train_y)

    report = robustness_report(model.predict, test_x, test_y, accuracy_score, seed=3)
    rows = {row["perturbation"]: row for row in report.rows}
    assert report.clean_score > 0.95 and list(rows) == list(PERTURBATIONS)
    for row in report.rows:
        assert set(row) == {"perturbation", "score", "drop", "changed_share"}
        assert row["drop"] == pytest.approx(report.clean_score - row["score"])
    assert rows["truncation"]["changed_share"] == 1.0 and rows["homophones"]["changed_share"] > 0.9
    assert rows["truncation"]["drop"] > 0.3 > rows["whitespace"]["drop"] + 0.2
    assert worst_drop(report)["perturbation"] == "truncation"
    assert report.examples["truncation"][0]["perturbed"] == test_x[0][:len(test_x[0]) // 2]
    assert robustness_report(model.predict, test_x, test_y, accuracy_score, seed=3).to_dict() == report.to_dict()
    assert robustness_plot(report, max_drop=0.05).startswith(b"\x89PNG")


def test_multi_label_and_loss_metrics() -> None:
    texts = ["好吃又快", "好吃", "太慢了", "又快又好吃，就是贵"] * 5

    def predict(batch: list[str]) -> list[list[str]]:
        return [[tag for tag, key in (("taste", "好吃"), ("speed", "快")) if key in t] for t in batch]

    def exact_match(y_true: list[list[str]], y_pred: list[list[str]]) -> float:
        return float(np.mean([set(a) == set(b) for a, b in zip(y_true, y_pred, strict=True)]))

    truth = predict(texts)
    report = robustness_report(predict, texts, truth, exact_match, ["truncation", "whitespace"], rate=1.0)
    assert report.clean_score == 1.0
    assert {r["perturbation"]: r["drop"] > 0 for r in report.rows} == {"truncation": True, "whitespace": True}

    def indicator(batch: list[str]) -> np.ndarray:
        return np.array([[("taste" in p), ("speed" in p)] for p in predict(batch)], dtype=int)

    def hamming_loss(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(np.mean(np.asarray(y_true) != np.asarray(y_pred)))

    lossy = robustness_report(indicator, texts, indicator(texts), hamming_loss, {"cut": _cut_all},
                              greater_is_better=False)
    assert lossy.clean_score == 0.0 and lossy.rows[0]["drop"] == lossy.rows[0]["score"] > 0


def _cut_all(text: str, rng: random.Random, rate: float) -> str:
    return text[:1]


def _reviews(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Reviews whose verdict comes last, after neutral clauses longer than it: truncation removes it."""
    rng = random.Random(seed)
    filler = ["今天中午点了这家店的外卖", "和同事一起订的午饭", "第二次在这家点餐了", "点的是店里的招牌套餐",
              "周末在家叫的外卖", "看评论挺多就下单了"]
    verdict = {"pos": ["味道很好", "非常好吃", "送得很快", "服务热情"],
               "neg": ["味道很差", "难吃死了", "送得太慢", "态度恶劣"]}
    labels = [rng.choice(["pos", "neg"]) for _ in range(n)]
    return [f"{rng.choice(filler)}，{rng.choice(filler)}，{rng.choice(verdict[y])}" for y in labels], labels


def _edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]
