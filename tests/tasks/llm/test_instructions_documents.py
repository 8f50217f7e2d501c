"""Pairs from documents: passages cut at headings, blank lines and Chinese sentence ends, one templated pair each."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mofang.core.errors import MofangError
from mofang.data import read_source
from mofang.tasks.llm.instructions import CANONICAL, pairs_from_documents, passages
from mofang.tasks.llm.instructions.documents import sentences
from tests.data.helpers import source

HANDBOOK = """# 员工手册

## 第一章 休假
员工每年享有带薪年假。年假天数按工龄计算！满一年的员工享有五天年假。

病假需要提供医院证明。

## 第二章 报销
报销须在三十天内提交。逾期不予受理。
"""


def test_sentences_are_chinese_aware() -> None:
    assert sentences("他说：“好。”然后走了！Keep receipts. Version 3.5 applies.\n下一行") == [
        "他说：“好。”", "然后走了！", "Keep receipts.", "Version 3.5 applies.", "下一行"]


def test_passages_follow_headings_and_the_size_limit() -> None:
    cut = passages(HANDBOOK, max_chars=200)
    assert cut == ["员工手册",
                   "第一章 休假\n员工每年享有带薪年假。年假天数按工龄计算！满一年的员工享有五天年假。"
                   "\n病假需要提供医院证明。",
                   "第二章 报销\n报销须在三十天内提交。逾期不予受理。"]
    long = "".join(f"第{i}句话的内容在这里。" for i in range(40))
    pieces = passages(long, max_chars=50)
    assert all(len(p) <= 50 for p in pieces) and "".join(pieces) == long
    assert all(p.endswith("。") for p in pieces)  # cut at sentence ends, not mid-sentence
    assert passages("无标点" * 30, max_chars=40)[0] == ("无标点" * 30)[:40]
    with pytest.raises(MofangError, match="max_chars must be a positive"):
        passages("x", max_chars=0)


def test_pairs_from_a_documents_folder(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "hr").mkdir(parents=True)
    (folder / "hr" / "handbook.md").write_text(HANDBOOK, encoding="utf-8")
    (folder / "notes.txt").write_text("只有一句话。", encoding="utf-8")  # no rest after the lead: skipped
    frame = read_source(source(folder))
    pairs = pairs_from_documents(frame)
    assert list(pairs.columns)[:6] == [*CANONICAL, "source", "passage"]
    assert pairs["prompt"].tolist() == ["请根据《员工手册》介绍：第一章 休假", "请根据《员工手册》介绍：第二章 报销"]
    assert pairs.loc[1, "response"] == "报销须在三十天内提交。逾期不予受理。"
    assert pairs.loc[0, "source"] == "hr/handbook.md" and pairs.loc[0, "passage"].startswith("第一章 休假\n")
    assert pairs.loc[0, "label"] == "hr"
    assert (pairs[["system", "history"]] == "").all().all()


def test_template_override_and_unknown_field() -> None:
    frame = pd.DataFrame([{"path": "a.txt", "title": "说明", "text": "第一句。第二句。第三句。", "format": "txt"}])
    pairs = pairs_from_documents(frame, template="《{title}》中“{lead}”之后讲了什么？")
    assert pairs.loc[0, "prompt"] == "《说明》中“第一句。”之后讲了什么？"
    assert pairs.loc[0, "response"] == "第二句。第三句。"
    whole = pairs_from_documents(frame, template="概括《{title}》这一段")
    assert whole.loc[0, "response"] == "第一句。第二句。第三句。"  # no {lead}: the answer is the whole passage
    with pytest.raises(MofangError, match=r"names author; it may use \{title\}, \{lead\}, \{passage\}"):
        pairs_from_documents(frame, template="{author}写了什么")
