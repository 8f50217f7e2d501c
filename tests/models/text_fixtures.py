"""Synthetic Chinese news-like sentences in four topics (single- or multi-label) for text-model tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

TOPICS = {
    "体育": ["比赛", "球队", "进球", "冠军", "教练", "球员", "联赛", "射门", "主场", "决赛"],
    "财经": ["股市", "银行", "利率", "投资", "基金", "股票", "央行", "通胀", "债券", "汇率"],
    "科技": ["手机", "芯片", "人工智能", "软件", "算法", "电脑", "互联网", "数据", "机器人", "云计算"],
    "娱乐": ["电影", "明星", "演唱会", "导演", "综艺", "歌手", "票房", "剧集", "粉丝", "首映"],
}
FILLER = ["今天", "我们", "认为", "这个", "非常", "已经", "表示", "记者", "消息", "昨天", "大家", "目前",
          "据悉", "可能", "一个", "重要", "发展", "问题", "情况", "时间", "，", "。", "的", "了", "在", "和"]
FEATURES = [{"name": "标题", "kind": "text"}]


def sentence(rng: np.random.Generator, topics: list[str]) -> str:
    words = [str(w) for t in topics for w in rng.choice(TOPICS[t], size=2, replace=False)]
    words += [str(w) for w in rng.choice(FILLER, size=int(rng.integers(3, 7)))]
    rng.shuffle(words)
    return "".join(words)


def news(n: int = 600, seed: int = 0, multi_label: bool = False) -> pd.DataFrame:
    """Rows of 标题 (text) and 类别 (a topic, or for multi-label one or two topics joined by '|')."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    rows = []
    for _ in range(n):
        k = int(rng.integers(1, 3)) if multi_label else 1
        topics = sorted(str(t) for t in rng.choice(names, size=k, replace=False))
        rows.append({"标题": sentence(rng, topics), "类别": "|".join(topics)})
    return pd.DataFrame(rows)


def dataset(train: pd.DataFrame, multi_label: bool = False) -> dict[str, Any]:
    """The data workshop's dataset record for frames made by `news`."""
    labels = sorted({label for value in train["类别"] for label in value.split("|")})
    out: dict[str, Any] = {"task": "text-classification", "target": "类别", "features": FEATURES,
                           "classes": labels, "id_column": None}
    if multi_label:
        out.update(multi_label=True, label_separator="|")
    return out


def splits(n: int = 600, seed: int = 0, multi_label: bool = False) -> tuple[pd.DataFrame, ...]:
    frame = news(n, seed, multi_label)
    a, b = int(0.6 * n), int(0.8 * n)
    return frame.iloc[:a].reset_index(drop=True), frame.iloc[a:b].reset_index(drop=True), \
        frame.iloc[b:].reset_index(drop=True)
