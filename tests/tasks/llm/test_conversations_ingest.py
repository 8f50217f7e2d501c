"""The data workshop's ingest of instruction data: several files read as conversations, each error naming its own
file and row."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from mofang.core.errors import DataError
from mofang.data.sources import read_granted
from mofang.orders.loader import parse_order
from mofang.tasks.llm.preparation import read_conversations

ORDER = """\
id: chats
tenant: acme
task: instruction-tuning
base_model: /models/any
acceptance: none
data:
  - path: {first}
  - path: {second}
"""


def chat(question: str, answer: str) -> dict:
    return {"conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]}


def ingest(tmp_path: Path, second_rows: list) -> tuple[object, SimpleNamespace]:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text("\n".join(json.dumps(chat(f"问题{i}", f"回答{i}"), ensure_ascii=False) for i in range(3)),
                     encoding="utf-8")
    second.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in second_rows), encoding="utf-8")
    order = parse_order(ORDER.format(first=first, second=second), file=str(tmp_path / "order.yaml"))
    ctx = SimpleNamespace(order=order, reasons=[], saved={})
    ctx.reason, ctx.save = ctx.reasons.append, ctx.saved.__setitem__
    data, reads = read_granted(order)
    return read_conversations(ctx, data, reads), ctx


def test_several_files_become_one_set_of_conversations(tmp_path: Path) -> None:
    frame, ctx = ingest(tmp_path, [chat("第二个文件的问题", "第二个文件的回答"), chat("只有问题", "")])
    assert frame["prompt"].tolist() == ["问题0", "问题1", "问题2", "第二个文件的问题"]
    assert ctx.saved["conversation_info"]["dropped"] == 1  # the chat without a reply
    assert any("4 rows" in r and "1 dropped" in r for r in ctx.reasons), ctx.reasons


def test_a_broken_row_is_named_by_its_own_file_and_row(tmp_path: Path) -> None:
    broken = {"conversations": "[{\"from\": \"human\", \"value\": "}  # cut JSON inside the cell
    with pytest.raises(DataError) as caught:
        ingest(tmp_path, [chat("好的问题", "好的回答"), broken])
    message = str(caught.value)
    assert "b.jsonl" in message and "a.jsonl" not in message and "row 2" in message, message
