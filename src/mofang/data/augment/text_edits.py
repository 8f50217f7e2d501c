"""Label-preserving text edits: character deletion and swap, punctuation insertion, Chinese synonym replacement."""

from __future__ import annotations

import re

import numpy as np

EDITS = ("delete", "swap", "punctuation", "synonym")

# common words of reviews, tickets and service talk, each with a near-synonym (used both ways)
SYNONYM_PAIRS = (
    ("非常", "特别"), ("很", "挺"), ("好吃", "美味"), ("喜欢", "喜爱"), ("不错", "挺好"), ("满意", "称心"),
    ("快", "迅速"), ("慢", "迟缓"), ("便宜", "实惠"), ("贵", "昂贵"), ("干净", "整洁"), ("漂亮", "好看"),
    ("马上", "立刻"), ("已经", "早已"), ("但是", "可是"), ("因为", "由于"), ("所以", "因此"), ("问题", "毛病"),
    ("东西", "物品"), ("商家", "店家"), ("送到", "送达"), ("打电话", "致电"), ("味道", "口味"), ("送餐", "配送"),
    ("外卖", "餐食"), ("下次", "以后"), ("一直", "始终"), ("觉得", "感觉"), ("希望", "期望"), ("帮助", "帮忙"),
    ("告诉", "通知"), ("需要", "需求"), ("购买", "选购"), ("质量", "品质"), ("价格", "价钱"), ("差", "糟糕"),
    ("难吃", "不好吃"), ("失望", "扫兴"), ("推荐", "安利"), ("朋友", "友人"), ("工作人员", "员工"), ("客服", "售后"),
    ("包装", "打包"), ("立即", "即刻"), ("还是", "仍然"), ("有点", "有些"), ("特别", "格外"), ("超级", "极其"),
)
_SYNONYMS = {a: b for a, b in SYNONYM_PAIRS} | {b: a for a, b in SYNONYM_PAIRS}
_SYNONYM_RE = re.compile("|".join(sorted(map(re.escape, _SYNONYMS), key=len, reverse=True)))
_CJK = re.compile(r"[\u4e00-\u9fff]")
CJK_MARKS = "，。！？；、"
ASCII_MARKS = ",.!?;:"


def edit_text(text: str, edit: str, rate: float, rng: np.random.Generator) -> str:
    """One edit of `text`, touching about `rate` of its characters (at least one); may return it unchanged
    when the edit finds nothing to do (no synonym, too short)."""
    if not text:
        return text
    touches = max(1, int(round(rate * len(text))))
    if edit == "delete":
        if len(text) < 4:
            return text
        drop = set(rng.choice(len(text), size=min(touches, len(text) // 4), replace=False).tolist())
        return "".join(ch for i, ch in enumerate(text) if i not in drop)
    if edit == "swap":
        if len(text) < 3:
            return text
        chars = list(text)
        for i in rng.choice(len(chars) - 1, size=min(touches, len(chars) - 1), replace=False):
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        return "".join(chars)
    if edit == "punctuation":
        marks = CJK_MARKS if _CJK.search(text) else ASCII_MARKS
        chars = list(text)
        for at in sorted(rng.integers(0, len(chars) + 1, size=touches).tolist(), reverse=True):
            chars.insert(at, marks[int(rng.integers(len(marks)))])
        return "".join(chars)
    if edit == "synonym":
        found = list(_SYNONYM_RE.finditer(text))
        if not found:
            return text
        chosen = {int(i) for i in rng.choice(len(found), size=min(len(found), max(1, touches // 2)), replace=False)}
        pieces, last = [], 0
        for i, match in enumerate(found):
            if i in chosen:
                pieces += [text[last:match.start()], _SYNONYMS[match.group()]]
                last = match.end()
        return "".join(pieces) + text[last:]
    raise ValueError(f"unknown text edit {edit!r} (expected one of {', '.join(EDITS)})")


def augment_text(text: str, edits: list[str], rate: float, rng: np.random.Generator) -> str:
    """`text` changed by one of `edits` picked at random, trying the others when it changes nothing."""
    for edit in rng.permutation(edits).tolist():
        changed = edit_text(text, edit, rate, rng)
        if changed != text:
            return changed
    return text
