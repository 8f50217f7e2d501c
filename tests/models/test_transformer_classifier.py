"""TransformerClassifier on tiny random checkpoints with real tokenizers: it learns a keyword, LoRA
works and merges, a pickled model predicts identically, and the deadline stops training."""

from __future__ import annotations

import io
import time
from pathlib import Path

import joblib
import numpy as np
import pytest

from mofang.core.errors import MofangError
from mofang.models.transformer.classifier import TransformerClassifier, encode_window
from mofang.models.transformer.tiny import tiny_bert_checkpoint, tiny_qwen2_checkpoint
from tests.models.test_transformer_coverage import qwen_tokenizer_dir

FILLER_EN = "the a movie film plot actor scene was is it this very quite rather story".split()
FILLER_ZH = ["的", "了", "我", "他", "我们", "今天", "这个", "东西", "还是", "非常", "觉得"]


def keyword_texts(n: int, seed: int, chinese: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Two classes told apart by one keyword at a random position among filler words."""
    rng = np.random.default_rng(seed)
    filler, keys = (FILLER_ZH, ["好评", "差评"]) if chinese else (FILLER_EN, ["wonderful", "terrible"])
    texts, y = np.empty(n, dtype=object), rng.integers(0, 2, n)
    for i in range(n):
        words = list(rng.choice(filler, size=int(rng.integers(4, 12))))
        words.insert(int(rng.integers(len(words) + 1)), keys[y[i]])
        texts[i] = ("" if chinese else " ").join(words)
    return texts, y


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    return tiny_qwen2_checkpoint(tmp_path_factory.mktemp("tiny-qwen"), tokenizer_folder=qwen_tokenizer_dir(request))


def round_trip(model: TransformerClassifier) -> TransformerClassifier:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    buffer.seek(0)
    return joblib.load(buffer)


def test_tiny_bert_learns_a_keyword_and_pickles_exactly(tiny_bert: Path) -> None:
    X, y = keyword_texts(160, 0)
    X_valid, y_valid = keyword_texts(80, 1)
    model = TransformerClassifier(tiny_bert, learning_rate=5e-3, epochs=4, batch_size=8, max_length=32, threads=1)
    model.fit(X, y, X_valid, y_valid)
    assert list(model.classes_) == [0, 1]
    assert (model.predict(X_valid) == y_valid).mean() >= 0.9
    stats = model.stats_
    assert stats["steps"] == 80 and stats["stopped"] == "epochs" and stats["evaluations"] == 4
    assert stats["train_samples_per_s"] > 0 and stats["predict_samples_per_s"] > 0
    loaded = round_trip(model)
    texts = list(X_valid) + ["", "terrible " * 100]  # an empty and a truncated text too
    np.testing.assert_array_equal(loaded.predict_proba(texts), model.predict_proba(texts))
    assert loaded.get_params() == model.get_params()


def test_lora_trains_adapters_and_merges_them(tiny_bert: Path) -> None:
    X, y = keyword_texts(160, 2)
    X_valid, y_valid = keyword_texts(80, 3)
    model = TransformerClassifier(tiny_bert, learning_rate=3e-2, epochs=4, batch_size=8, lora_rank=8, max_length=32,
                                  threads=1)
    model.fit(X, y, X_valid, y_valid)
    accuracy = (model.predict(list(X_valid)) == y_valid).mean()
    assert accuracy >= 0.8
    assert accuracy == pytest.approx(model.stats_["best_valid_score"])  # merged weights = adapted ones
    assert not any("lora" in name for name in model.model_.state_dict())
    np.testing.assert_array_equal(round_trip(model).predict_proba(list(X_valid)), model.predict_proba(list(X_valid)))


def test_tiny_qwen2_reads_chinese_and_pickles_exactly(tiny_qwen: Path) -> None:
    X, y = keyword_texts(120, 4, chinese=True)
    X_valid, y_valid = keyword_texts(60, 5, chinese=True)
    model = TransformerClassifier(tiny_qwen, learning_rate=3e-3, epochs=3, batch_size=8, max_length=32, threads=1)
    model.fit(X, y, X_valid, y_valid)
    assert model.model_.config.model_type == "qwen2" and model.tokenizer_.pad_token == "<|endoftext|>"
    assert (model.predict(list(X_valid)) == y_valid).mean() >= 0.85
    np.testing.assert_array_equal(round_trip(model).predict_proba(list(X_valid)), model.predict_proba(list(X_valid)))


def test_the_deadline_stops_training(tiny_bert: Path) -> None:
    X, y = keyword_texts(64, 6)
    model = TransformerClassifier(tiny_bert, learning_rate=3e-3, epochs=10_000, batch_size=8, max_length=32,
                                  threads=1)
    model.fit(X, y, X[:16], y[:16], deadline=time.monotonic() + 1.0)
    stats = model.stats_
    assert stats["stopped"].startswith("deadline") and 0 < stats["steps"] < stats["planned_steps"] == 80_000
    assert model.predict_proba(list(X[:3])).shape == (3, 2)


def test_multi_label_and_the_valid_memo(tiny_bert: Path) -> None:
    rng = np.random.default_rng(7)
    Y = rng.integers(0, 2, (160, 2))
    texts = np.asarray([" ".join([*(["alpha"] if a else []), *rng.choice(FILLER_EN, 5), *(["omega"] if b else [])])
                        for a, b in Y], dtype=object)
    model = TransformerClassifier(tiny_bert, learning_rate=1e-2, epochs=6, batch_size=8, max_length=32, threads=1)
    model.fit(texts[:120], Y[:120], texts[120:], Y[120:])
    assert list(model.classes_) == [0, 1] and model.predict(texts[120:]).shape == (40, 2)
    assert (model.predict(texts[120:]) == Y[120:]).mean() >= 0.85
    valid = texts[120:]
    first = model.predict_proba(valid)
    model.model_ = None  # the memo answers the same array without running the model again
    np.testing.assert_array_equal(model.predict_proba(valid), first)


def test_long_texts_keep_their_head_and_tail(tiny_bert: Path) -> None:
    from mofang.models.transformer.runtime import load_tokenizer

    tokenizer = load_tokenizer(tiny_bert)
    text = "one two three four five six seven eight nine ten eleven twelve"
    cut = {keep: tokenizer.decode(encode_window(tokenizer, [text], 10, keep)[0])
           for keep in ("head", "tail", "head+tail")}
    assert cut == {"head": "[CLS] one two three four five six seven eight [SEP]",
                   "tail": "[CLS] five six seven eight nine ten eleven twelve [SEP]",
                   "head+tail": "[CLS] one two seven eight nine ten eleven twelve [SEP]"}
    assert [len(r) for r in encode_window(tokenizer, ["short", ""], 10)] == [3, 2]


def test_a_folder_that_is_not_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MofangError, match="cannot load the tokenizer of"):
        TransformerClassifier(tmp_path).fit(["a", "b"], [0, 1])
