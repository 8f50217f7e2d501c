"""Instruction formats: alpaca, sharegpt, lawbench-style and Q&A tables become canonical rows; bad layouts fail."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mofang.core.errors import DataError
from mofang.data import read_source
from mofang.data.jsontables import parse_json
from mofang.tasks.llm.instructions import CANONICAL, messages, to_instructions
from tests.conftest import shared_dataset
from tests.data.helpers import source


def _read(path: Path, text: str) -> pd.DataFrame:
    path.write_text(text, encoding="utf-8")
    return read_source(source(path))


def test_sharegpt_system_and_multi_turn_history(tmp_path: Path) -> None:
    chats = [
        {"id": "c1", "conversations": [
            {"from": "system", "value": "你是律师助手。"},
            {"from": "human", "value": "租房押金不退怎么办？"}, {"from": "gpt", "value": "先协商，再投诉。"},
            {"from": "human", "value": "投诉到哪里？"}, {"from": "gpt", "value": "住建部门或消费者协会。"}]},
        {"id": "c2", "conversations": [{"from": "human", "value": "你好"}, {"from": "gpt", "value": "您好！"}]},
        {"id": "c3", "conversations": [{"from": "human", "value": "还在吗"}]},  # no assistant reply: dropped
    ]
    frame = _read(tmp_path / "chats.jsonl", "\n".join(json.dumps(c, ensure_ascii=False) for c in chats) + "\n")
    assert isinstance(frame.loc[0, "conversations"], str)  # the reader hands nested values over as JSON text
    out, info = to_instructions(frame, label="chats.jsonl")
    assert info["format"] == "sharegpt" and info["rows"] == 2 and info["multi_turn"] == 1
    assert info["dropped_reasons"] == {"does not end with an assistant turn": 1}
    assert info["dropped_rows"] == [{"row": 3, "reason": "does not end with an assistant turn"}]
    assert list(out.columns) == [*CANONICAL, "id"]
    first = out.iloc[0]
    assert first["system"] == "你是律师助手。"
    assert (first["prompt"], first["response"]) == ("投诉到哪里？", "住建部门或消费者协会。")
    history = json.loads(first["history"])
    assert history == [{"role": "user", "content": "租房押金不退怎么办？"},
                       {"role": "assistant", "content": "先协商，再投诉。"}]
    assert [m["content"] for m in messages(first.to_dict())] == [
        "你是律师助手。", "租房押金不退怎么办？", "先协商，再投诉。", "投诉到哪里？", "住建部门或消费者协会。"]
    assert out.iloc[1][["system", "history"]].tolist() == ["", ""]
    assert not out[list(CANONICAL)].isna().any().any()


def test_openai_messages_column() -> None:
    cell = json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    out, info = to_instructions(pd.DataFrame({"messages": [cell]}), label="m.json")
    assert info["format"] == "sharegpt" and out.loc[0, "prompt"] == "hi" and out.loc[0, "response"] == "hello"


def test_alpaca_with_input_system_and_history(tmp_path: Path) -> None:
    records = [
        {"instruction": "把下面的句子翻译成英文", "input": "今天天气很好", "output": "The weather is nice today."},
        {"instruction": "介绍一下劳动合同", "input": "", "output": "劳动合同是……", "system": "你是法律顾问",
         "history": [["什么是合同？", "合同是当事人之间的协议。"]]},
        {"instruction": "空答案", "input": "", "output": ""},
    ]
    frame = _read(tmp_path / "alpaca.json", json.dumps(records, ensure_ascii=False))
    out, info = to_instructions(frame, label="alpaca.json")
    assert info["format"] == "alpaca" and info["rows"] == 2
    assert info["dropped_reasons"] == {"empty response": 1}
    assert out.loc[0, "prompt"] == "把下面的句子翻译成英文\n\n今天天气很好"
    assert out.loc[1, "prompt"] == "介绍一下劳动合同" and out.loc[1, "system"] == "你是法律顾问"
    assert json.loads(out.loc[1, "history"]) == [{"role": "user", "content": "什么是合同？"},
                                                 {"role": "assistant", "content": "合同是当事人之间的协议。"}]
    assert list(out.columns) == list(CANONICAL)  # the alpaca columns were all used


def test_lawbench_real_file() -> None:
    LAWBENCH = shared_dataset("qa/lawbench/3-8.json")  # noqa: N806 - the file the test reads
    frame, _ = parse_json(LAWBENCH.read_text(encoding="utf-8"), "json", str(LAWBENCH))
    out, info = to_instructions(frame, label=str(LAWBENCH))
    assert info["format"] == "lawbench" and info["rows_in"] == len(frame)
    assert info["rows"] + info["dropped"] == len(frame) and info["rows"] > 0.9 * len(frame)
    first = frame.iloc[0]
    assert out.loc[0, "prompt"] == first["instruction"].strip() + "\n" + first["question"].strip()
    assert out.loc[0, "response"] == first["answer"].strip()
    assert (out["prompt"].str.len() > 0).all() and (out["response"].str.len() > 0).all()


def test_medical_gb18030_csv_as_qa_with_template() -> None:
    MEDICAL = shared_dataset("qa/medical_dialogue_internal_gb18030.csv")  # noqa: N806 - the file the test reads
    frame = read_source(source(MEDICAL))
    assert frame.attrs["source"]["encoding"].lower() in ("gb18030", "gbk")
    template = "科室：{department}\n{title}\n{ask}"
    out, info = to_instructions(frame, label=str(MEDICAL), response_column="answer", template=template)
    assert info["format"] == "qa" and info["rows"] > 0.9 * len(frame)
    row = frame.iloc[0]
    assert out.loc[0, "prompt"] == f"科室：{row['department']}\n{row['title']}\n{row['ask']}"
    assert out.loc[0, "response"] == row["answer"].strip()
    assert out.loc[0, "prompt"].startswith("科室：心血管科\n")
    assert list(out.columns) == list(CANONICAL)  # department, title, ask, answer went into the text


def test_qa_named_columns_keep_the_rest() -> None:
    frame = pd.DataFrame({"__row__": [1, 2, 3], "问": ["A?", "B?", None], "答": ["a", "b", "c"], "tag": list("xyz")})
    out, info = to_instructions(frame, label="qa.csv", prompt_column="问", response_column="答")
    assert info["format"] == "qa" and list(out.columns) == [*CANONICAL, "__row__", "tag"]
    assert out["prompt"].tolist() == ["A?", "B?"] and out["tag"].tolist() == ["x", "y"]
    assert info["dropped_rows"] == [{"row": 3, "reason": "empty prompt"}]


def test_broken_conversations_json_names_the_row() -> None:
    good = json.dumps([{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}])
    frame = pd.DataFrame({"conversations": [good, good, '[{"from": "human", "value": "q"'], "id": [1, 2, 3]})
    with pytest.raises(DataError, match=r"chats\.jsonl, row 3, column 'conversations': not valid JSON") as caught:
        to_instructions(frame, label="chats.jsonl")
    assert caught.value.row == 3


def test_non_alternating_turns_fail() -> None:
    cell = json.dumps([{"from": "human", "value": "q1"}, {"from": "human", "value": "q2"},
                       {"from": "gpt", "value": "a"}])
    with pytest.raises(DataError, match=r"row 1.*turn 2 is from 'user' but should be from 'assistant'"):
        to_instructions(pd.DataFrame({"conversations": [cell]}), label="c.json")


def test_unknown_layout_lists_the_columns() -> None:
    frame = pd.DataFrame({"名称": ["a"], "金额": ["1"]})
    with pytest.raises(DataError, match=r"cannot tell the instruction layout from the columns 名称, 金额; "
                                        r"expected one of: alpaca.*sharegpt"):
        to_instructions(frame, label="x.csv")


def test_template_naming_a_missing_column() -> None:
    frame = pd.DataFrame({"title": ["t"], "ask": ["q"], "answer": ["a"]})
    with pytest.raises(DataError, match=r"names column 'department', which the source lacks; columns: title, ask, "
                                        r"answer") as caught:
        to_instructions(frame, label="qa.csv", response_column="answer", template="{department}: {ask}")
    assert caught.value.column == "department"


def test_explicit_format_needs_its_columns() -> None:
    with pytest.raises(DataError, match="format alpaca needs the columns instruction, output; missing output"):
        to_instructions(pd.DataFrame({"instruction": ["x"]}), label="a.json", fmt="alpaca")
