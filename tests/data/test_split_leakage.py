"""Held-out rows that copy a training row: exact feature rows are counted, near-copied texts found."""

from __future__ import annotations

import pandas as pd

from mofang.data.split_leakage import held_out_copies

FEATURES = [{"name": "review", "kind": "text"}, {"name": "stars", "kind": "numeric"}]


def test_near_copied_text_in_the_held_out_part_is_found() -> None:
    long = "送餐很快，味道也非常不错，分量足，价格实惠，骑手态度很好，下次还会再点这一家的外卖"
    train = pd.DataFrame({"review": [long, "包装破损了，汤洒了一半，很失望"], "stars": [5.0, 1.0]})
    held_out = pd.DataFrame({"review": [long.replace("实惠", "实在"), "完全不同的一句评价，和训练集无关系",
                                        "包装破损了，汤洒了一半，很失望！"], "stars": [5.0, 3.0, 1.0]})
    found = held_out_copies(train, held_out, FEATURES)
    assert found["near_text"] == [0, 2] and found["same_features"] == 0  # "！" differs, but not in content
    assert found["examples"][0]["train"] == 0 and 0.8 <= found["examples"][0]["jaccard"] < 1.0
    assert found["examples"][1]["jaccard"] == 1.0


def test_nothing_found_in_unrelated_parts() -> None:
    train = pd.DataFrame({"review": ["今天天气很好，适合出去散步"], "stars": [4.0]})
    held_out = pd.DataFrame({"review": ["这家店的服务态度实在太差了"], "stars": [2.0]})
    assert held_out_copies(train, held_out, FEATURES) == {"same_features": 0, "near_text": [], "examples": []}
