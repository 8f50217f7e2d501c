"""Tokenizer coverage: MiniLM cannot read Chinese ([UNK]), an English byte-level BPE cannot either
(byte fragments), Qwen's tokenizer can; the skip reason says why and what to do."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from mofang.models.transformer.catalog import resolve
from mofang.models.transformer.coverage import dominant_script, measure_coverage, sample_texts
from mofang.models.transformer.runtime import load_tokenizer
from mofang.models.transformer.tokenizers import cached_qwen_tokenizer

CHINESE = ["味道稍微咸点！整体不错！", "送餐太慢了，等了一个多小时，菜都凉了", "很快，好吃，味道足，量大",
           "这家店的服务态度很差，再也不会点了", "包装很精致，米饭有点硬", "物流很快，书的质量也不错，推荐购买",
           "酸菜鱼很好吃，就是有点辣", "外卖小哥态度很好，准时送达"] * 20
ENGLISH = ["The plot was thin but the acting carried the film.", "I would not recommend this movie to anyone.",
           "A wonderful, moving story with a great cast.", "Two hours of my life I will never get back."] * 20


def qwen_tokenizer_dir(request: pytest.FixtureRequest) -> Path:
    """The Qwen fast tokenizer, built once (seconds) into pytest's cache, or a temp folder without one."""
    cache = getattr(request.config, "cache", None)
    root = cache.mkdir("mofang-tokenizers") if cache is not None else Path(tempfile.gettempdir()) / "mofang-tokenizers"
    return cached_qwen_tokenizer(root)


@pytest.fixture(scope="module")
def minilm():
    return load_tokenizer(resolve("minilm-l6"))


def test_minilm_cannot_read_chinese_and_says_so(minilm) -> None:
    coverage = measure_coverage(minilm, CHINESE, model="minilm-l6")
    assert coverage.ratio > 0.5 and coverage.unknown > 0 and coverage.script == "Chinese"
    assert not coverage.readable()
    reason = coverage.skip_reason()
    assert reason.startswith(f"minilm-l6 skipped: {coverage.ratio:.0%} of tokens are [UNK] on this order's text "
                             f"(sample of {len(CHINESE)} rows")
    assert reason.endswith("point base_model at a checkpoint that reads Chinese")


def test_minilm_reads_english(minilm) -> None:
    coverage = measure_coverage(minilm, ENGLISH, model="minilm-l6")
    assert coverage.ratio < 0.01 and coverage.readable() and coverage.language == "en"


def test_an_english_byte_level_bpe_reads_chinese_as_byte_fragments() -> None:
    """No [UNK] exists in byte-level BPE: an untrained script falls apart into byte pieces (U+FFFD)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(ENGLISH, trainers.BpeTrainer(vocab_size=300, show_progress=False,
                                                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    english_bpe = PreTrainedTokenizerFast(tokenizer_object=backend)
    chinese = measure_coverage(english_bpe, CHINESE, model="en-bpe")
    assert chinese.unknown == 0 and chinese.ratio > 0.8
    assert "byte fragments" in chinese.skip_reason() and "reads Chinese" in chinese.skip_reason()
    assert measure_coverage(english_bpe, ENGLISH, model="en-bpe").ratio == 0.0


def test_qwen_tokenizer_reads_chinese(request: pytest.FixtureRequest) -> None:
    qwen = load_tokenizer(qwen_tokenizer_dir(request))
    coverage = measure_coverage(qwen, CHINESE, model="qwen")
    assert coverage.ratio < 0.01 and coverage.readable() and coverage.script == "Chinese"


def test_sampling_and_script_detection() -> None:
    texts = [f"第{i}条评论" for i in range(2000)] + [None, "", "   "]
    sample = sample_texts(texts, rows=500, seed=0)
    assert len(sample) == 500 and sample == sample_texts(texts, rows=500, seed=0)
    assert sample == sorted(sample, key=lambda t: int(t[1:-3]))  # original order kept
    assert dominant_script(["こんにちは、東京へ行きます"]) == ("Japanese", "ja")
    assert dominant_script(["안녕하세요"]) == ("Korean", "ko")
    assert dominant_script(["12345 !!"])[1] == "unknown"


def test_no_text_is_not_readable(minilm, tmp_path: Path) -> None:
    coverage = measure_coverage(minilm, ["", None], model="minilm-l6")
    assert coverage.tokens == 0 and not coverage.readable() and "no text" in coverage.skip_reason()
