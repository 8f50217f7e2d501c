"""Out-of-domain refusal pairs: a bilingual bank split by seed; eval questions never become training pairs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mofang.core.errors import DataError
from mofang.tasks.llm.instructions import CANONICAL, load_out_of_domain, refusal_pairs, split_out_of_domain
from mofang.tasks.llm.instructions.refusals import CHINESE_QUESTIONS, ENGLISH_QUESTIONS, QUESTIONS

REFUSAL = "抱歉，我只能回答法律相关的问题。"


def test_bank_size_and_disjoint_deterministic_splits() -> None:
    assert len(CHINESE_QUESTIONS) >= 55 and len(ENGLISH_QUESTIONS) >= 18 and len(set(QUESTIONS)) == len(QUESTIONS)
    train, evaluation = split_out_of_domain(7)
    assert not set(train) & set(evaluation) and set(train) | set(evaluation) == set(QUESTIONS)
    assert split_out_of_domain(7) == (train, evaluation)
    assert split_out_of_domain(8) != (train, evaluation)
    assert any(q.isascii() for q in evaluation) and not all(q.isascii() for q in evaluation)


def test_refusal_pairs_count_seed_and_exclusion() -> None:
    pairs = refusal_pairs(REFUSAL, count=10, seed=7)
    assert list(pairs.columns) == list(CANONICAL) and len(pairs) == 10
    assert (pairs["response"] == REFUSAL).all() and pairs["prompt"].is_unique
    train, evaluation = split_out_of_domain(7)
    assert set(pairs["prompt"]) <= set(train) and not set(pairs["prompt"]) & set(evaluation)
    assert refusal_pairs(REFUSAL, count=10, seed=7).equals(pairs)
    excluded = pairs["prompt"].tolist()[:3]
    assert not set(refusal_pairs(REFUSAL, count=10, seed=7, exclude=excluded)["prompt"]) & set(excluded)
    assert len(refusal_pairs(REFUSAL, count=1000, seed=7)) == len(train)  # capped at the bank's training side


def test_load_out_of_domain(tmp_path: Path) -> None:
    text = tmp_path / "ood.txt"
    text.write_text("今天吃什么？\n\n明天去哪玩？\n今天吃什么？\n", encoding="gbk")
    assert load_out_of_domain(text) == ["今天吃什么？", "明天去哪玩？"]
    listed = tmp_path / "ood.json"
    listed.write_text(json.dumps(["What's for dinner?", "Who sings best?"]), encoding="utf-8")
    questions = load_out_of_domain(listed)
    train, evaluation = split_out_of_domain(1, questions=questions)
    assert len(train) == 1 and len(evaluation) == 1
    bad = tmp_path / "bad.json"
    bad.write_text('{"q": 1}', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.json: must be a JSON list of question strings"):
        load_out_of_domain(bad)
    with pytest.raises(DataError, match=r"missing\.txt: out-of-domain question file not found"):
        load_out_of_domain(tmp_path / "missing.txt")
