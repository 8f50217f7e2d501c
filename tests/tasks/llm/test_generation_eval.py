"""The evaluation center's generation scoring on a tiny random Qwen2: multiple-choice accuracy by
log-likelihood on real LawBench questions, and every figure recomputed independently from the answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mofang.core.metrics.generation import is_refusal, score_generations
from mofang.models.transformer.tiny import tiny_qwen2_checkpoint
from mofang.orders.schema import LLMSettings
from mofang.tasks.llm.generation import _options, choice_rows, score_model
from mofang.tasks.llm.models.conversations import conversations
from tests.conftest import shared_dataset
from tests.models.test_transformer_coverage import qwen_tokenizer_dir

pytest.importorskip("peft")


@pytest.fixture(scope="module")
def chat(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    from mofang.tasks.llm.models.chat import ChatModel

    folder = tiny_qwen2_checkpoint(tmp_path_factory.mktemp("tiny"), tokenizer_folder=qwen_tokenizer_dir(request),
                                   max_positions=1024)
    return ChatModel.load(folder)


@pytest.fixture(scope="module")
def lawbench_choices():
    from mofang.data.jsontables import parse_json
    from mofang.tasks.llm.instructions.formats import to_instructions

    path: Path = shared_dataset("qa/lawbench/1-2.json")
    frame, _ = parse_json(path.read_text(encoding="utf-8"), "json", str(path))
    rows, _ = to_instructions(frame.head(10), label=str(path), fmt="lawbench")
    return rows


def test_option_letters_are_read_from_the_prompt() -> None:
    assert _options("下列哪项正确?A:甲;B:乙;C:丙;D:丁") == ["A", "B", "C", "D"]
    assert _options("选择：A. 是 B. 否") == ["A", "B"]
    assert _options("没有列出选项") == ["A", "B", "C", "D"]


def test_multiple_choice_accuracy_by_log_likelihood(chat, lawbench_choices) -> None:
    llm = LLMSettings(max_new_tokens=4, system_prompt="你是法律助手。")
    rows = lawbench_choices.reset_index(drop=True)
    choices = choice_rows(rows)
    assert len(choices) == len(rows)  # every LawBench 1-2 reference reads as one letter
    convs = conversations(rows, llm.system_prompt, with_response=False)
    ood = ["今天天气怎么样？", "推荐一部电影"]
    metrics, answers = score_model(llm, chat, rows, convs, ood, choices, examples=[])
    picks = [_options(str(rows.iloc[i]["prompt"]))[chat.choose(convs[i], _options(str(rows.iloc[i]["prompt"])))]
             for i, _ in choices]
    expected = float(np.mean([p == letter for p, (_, letter) in zip(picks, choices, strict=True)]))
    assert metrics["choice_accuracy"] == pytest.approx(expected)
    text = score_generations(answers, [str(r) for r in rows["response"]], sources=[None] * len(rows))
    for name in ("rouge_l", "bleu", "f1", "exact_match", "hallucination_rate", "grounded_rate"):
        assert metrics[name] == pytest.approx(text[name])
    assert metrics["false_refusal_rate"] == pytest.approx(np.mean([is_refusal(a, llm.refusal_message)
                                                                   for a in answers]))
    assert 0.0 <= metrics["refusal_rate"] <= 1.0 and len(answers) == len(rows)


def test_free_answers_are_not_read_as_multiple_choice() -> None:
    import pandas as pd

    rows = pd.DataFrame({"prompt": ["合同纠纷怎么办？"] * 3,
                         "response": ["先协商，协商不成可以起诉。", "可以申请仲裁。", "B"]})
    assert choice_rows(rows) == []
