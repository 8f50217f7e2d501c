"""Length filtering by tokens: rows over the limit are dropped and listed, kept lengths summarised."""

from __future__ import annotations

import pandas as pd
import pytest

from mofang.core.errors import MofangError
from mofang.tasks.llm.instructions import filter_by_tokens, messages


@pytest.fixture(scope="module")
def tokenizer():  # noqa: ANN201 - a transformers tokenizer
    from mofang.models.transformer.tokenizers import qwen_tokenizer_fast

    return qwen_tokenizer_fast()


def _rows() -> pd.DataFrame:
    return pd.DataFrame({"system": ["", "你是客服。", ""], "history": ["", "", ""],
                         "prompt": ["你好", "退货流程是什么？", "请详细说明" + "合同条款" * 200],
                         "response": ["您好！", "七天内可无理由退货。", "好的。"], "__row__": [11, 12, 13]})


def test_real_tokenizer_over_the_chat_template(tokenizer) -> None:  # noqa: ANN001
    from mofang.models.transformer.chat_templates import CHATML, render_ids

    def count(row: dict) -> int:
        return len(render_ids(tokenizer, messages(row), CHATML, generation_prompt=False))

    frame = _rows()
    counts = [count(r) for r in frame.to_dict("records")]
    assert counts[2] > 200 > counts[1] > counts[0]
    out, info = filter_by_tokens(frame, count, max_tokens=100)
    assert out["__row__"].tolist() == [11, 12]
    assert info["dropped"] == 1 and info["dropped_rows"] == [{"row": 13, "tokens": counts[2]}]
    assert info["longest_kept"] == counts[1] and info["tokens"]["max"] == counts[1]
    assert info["rows_in"] == 3 and info["rows"] == 2


def test_length_callable_and_quantiles() -> None:
    frame = pd.DataFrame({"prompt": ["x" * n for n in range(1, 101)], "response": ["y"] * 100})
    out, info = filter_by_tokens(frame, lambda row: len(row["prompt"]) + len(row["response"]), max_tokens=51)
    assert len(out) == 50 and info["dropped"] == 50 and len(info["dropped_rows"]) == 50
    assert info["dropped_rows"][0] == {"row": 51, "tokens": 52}
    assert info["longest_kept"] == 51  # kept lengths 2..51: quantiles rounded up
    assert info["tokens"] == {"p50": 27, "p90": 47, "p99": 51, "max": 51}
    assert filter_by_tokens(frame, lambda row: 1, max_tokens=1)[1]["dropped"] == 0


def test_bad_limit_or_counter() -> None:
    frame = _rows()
    with pytest.raises(MofangError, match="max_tokens must be a positive"):
        filter_by_tokens(frame, lambda row: 1, max_tokens=0)
    with pytest.raises(MofangError, match="token counter returned 'abc'"):
        filter_by_tokens(frame, lambda row: "abc", max_tokens=10)  # type: ignore[arg-type,return-value]
