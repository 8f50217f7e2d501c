"""Decontamination: training prompts equal or close to held-out prompts are dropped, others kept."""

from __future__ import annotations

import random

import pandas as pd
import pytest

from mofang.core.errors import MofangError
from mofang.tasks.llm.instructions import decontaminate
from mofang.tasks.llm.instructions.decontaminate import near_duplicates, ngrams, normalize

HELD = ["劳动合同到期不续签，公司需要支付经济补偿金吗？", "交通事故责任认定书对赔偿金额有什么影响？",
        "房东提前解除租赁合同应当承担什么责任？"]


def _frame(prompts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"prompt": prompts, "response": ["答"] * len(prompts),
                         "__row__": list(range(1, len(prompts) + 1))})


def test_exact_and_near_duplicates_removed_others_kept() -> None:
    train = _frame(["劳动合同到期不续签, 公司需要支付经济补偿金吗?",  # exact after punctuation/width normalisation
                    "交通事故责任认定书对赔偿金额有什么影响呢？",  # near: one character added
                    "离婚后孩子的抚养权一般判给谁？",  # different: kept
                    "ＡＢＣ公司的 注册资本是多少"])  # full-width letters normalise, but no held-out match: kept
    out, info = decontaminate(train, _frame(HELD), threshold=0.8)
    assert out["__row__"].tolist() == [3, 4]
    assert info["exact"] == 1 and info["near"] == 1 and info["n"] == 3
    assert info["dropped_rows"][0] == {"row": 1, "held_out_row": 1, "jaccard": 1.0, "kind": "exact"}
    near = info["dropped_rows"][1]
    assert near["row"] == 2 and near["held_out_row"] == 2 and 0.8 <= near["jaccard"] < 1 and near["kind"] == "near"
    strict, info = decontaminate(train, _frame(HELD), threshold=0.99)
    assert info["near"] == 0 and len(strict) == 3


def test_normalize_and_ngrams() -> None:
    assert normalize(" Ｈｅｌｌｏ，World！\n") == "helloworld"
    assert ngrams("abcd", 3) == {"abc", "bcd"} and ngrams("ab", 3) == {"ab"} and ngrams("", 3) == frozenset()


def test_prefix_filter_finds_every_pair_brute_force_finds() -> None:
    rng = random.Random(0)
    words = "合同劳动赔偿责任公司租赁离婚抚养交通事故房屋买卖继承遗产"
    left = ["".join(rng.choice(words) for _ in range(rng.randint(5, 15))) for _ in range(300)]
    right = [s[: len(s) - 1] if i % 3 else s + "吗" for i, s in enumerate(left[:100])] + left[200:230]
    found = near_duplicates(left, right, threshold=0.7, n=3)
    expected = {}
    for i, a in enumerate(left):
        scores = [len(ngrams(a, 3) & ngrams(b, 3)) / len(ngrams(a, 3) | ngrams(b, 3)) for b in right]
        if max(scores) >= 0.7:
            expected[i] = max(scores)
    assert expected and {i: round(s, 9) for i, (_, s) in found.items()} == {
        i: round(s, 9) for i, s in expected.items()}


def test_five_thousand_by_one_thousand() -> None:
    rng = random.Random(1)
    alphabet = [chr(0x4E00 + i) for i in range(3000)]
    held = ["".join(rng.choices(alphabet, k=rng.randint(20, 60))) for _ in range(1000)]
    train = ["".join(rng.choices(alphabet, k=rng.randint(20, 60))) for _ in range(4900)]
    train += [h + "？" for h in held[:50]] + [h[:-1] for h in held[50:100] if len(h) > 30]
    out, info = decontaminate(_frame(train), _frame(held))
    assert info["exact"] == 50 and info["near"] == len(train) - 4950 and len(out) == 4900


def test_frames_need_a_prompt_column() -> None:
    with pytest.raises(MofangError, match="held-out data has no 'prompt' column"):
        decontaminate(_frame(HELD), pd.DataFrame({"question": ["x"]}))
