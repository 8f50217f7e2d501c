"""A fine-tuned transformer text classifier as an edge bundle: WordPiece reproduced in pure Python (the same ids
as the Hugging Face tokenizer on Chinese, English and mixed text), torch.onnx export with dynamic axes in fp32
and int8 parity-checked against the served product, a byte-level BPE tokenizer skipped with the reason, and
the signed bundle answering like the served product in a fresh venv holding only onnxruntime + numpy."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from mofang.integration.bundle import Bundle
from mofang.integration.edge import build_edge_archive, check_parity, records_of, write_edge_folder
from mofang.integration.edge_runner import EdgeModel, TransformerText, WordPiece
from mofang.integration.preprocess import NotExportable
from mofang.integration.transformer_export import tokenizer_spec
from mofang.models.candidate import Candidate
from mofang.models.text.pipeline import TextPipeline
from mofang.models.transformer.classifier import TransformerClassifier, encode_window
from mofang.models.transformer.tiny import tiny_bert_checkpoint
from mofang.products.server import running_app
from mofang.products.serving import create_app
from mofang.security.signing import load_factory_key
from tests.integration.conftest import bare_env

TEXTS = [
    "The movie was WONDERFUL, wasn't it? Café naïve résumé — ¡qué bien!",
    "今天的电影非常好看，我们都觉得不错。",
    "我觉得这个 movie 还是 terrible 的!!! 2023年5月1日 price: ¥1,299.00",
    "ＦＵＬＬ－ｗｉｄｔｈ ｔｅｘｔ and\ttabs\nnew lines\r\n and\u00a0nbsp\u3000ideographic space",
    "supercalifragilisticexpialidocious antidisestablishmentarianism " + "x" * 120,
    "control\x00chars\x07and\u200bzero width\ufffd, emoji 😀👍 and Ελληνικά ΣΟΦΙΑ İstanbul",
    "special tokens in text: [CLS] hello [SEP] world [MASK] [PAD] [UNK]",
    "", "   ", "台北市 松山區 — 繁體中文測試；日本語のテキスト、한국어 텍스트",
    "unassigned a\u0378b, tag \U000e0001x, private \ue000y, newer emoji 🥰🫠 ₿, ﬁ Ⅻ 𝔘𝔫𝔦 e\u0301 \u00ad ẞ 〇",
]
FEATURES = [{"name": "title", "kind": "text"}, {"name": "body", "kind": "text"}]
FILLER = "the a movie film plot actor scene was is it this very quite rather story 今天 电影 我们 觉得".split()


def reviews(n: int, seed: int) -> pd.DataFrame:
    """Two text columns; the class is told by a keyword (English or Chinese) somewhere in the body."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        label = int(rng.integers(0, 2))
        words = list(rng.choice(FILLER, size=int(rng.integers(4, 40))))
        words.insert(int(rng.integers(len(words) + 1)), ["wonderful 好评", "terrible 差评"][label])
        rows.append({"title": str(rng.choice(FILLER)), "body": " ".join(words), "label": ["pos", "neg"][label]})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("tiny-bert"))


def _bundle(checkpoint: Path, lora_rank: int, multi_label: bool = False) -> Bundle:
    """A served text product whose candidate is a tiny BERT fine-tuned (fully or with merged LoRA; one label
    per text, or several: "neg|long" when the body is long)."""
    train, valid = reviews(120, 0), reviews(40, 1)
    pipeline = TextPipeline(FEATURES, mode="text-raw").fit(train)
    classes = ["long", "neg", "pos"] if multi_label else ["neg", "pos"]

    def targets(frame: pd.DataFrame) -> np.ndarray:
        if not multi_label:
            return frame["label"].map(classes.index).to_numpy()
        long = frame["body"].str.split().str.len() > 20
        return np.column_stack([long, frame["label"] == "neg", frame["label"] == "pos"]).astype(int)

    model = TransformerClassifier(checkpoint, max_length=24, learning_rate=1e-2 if not lora_rank else 3e-2,
                                  epochs=2, batch_size=16, lora_rank=lora_rank, threads=1)
    model.fit(pipeline.transform(train), targets(train), pipeline.transform(valid), targets(valid))
    candidate = Candidate("transformer", "transformer", "text-classification", {}, FEATURES, pipeline, model,
                          classes=classes, multi_label=multi_label)
    schema = {"task": "text-classification", "target": "label", "features": FEATURES, "ignored": ["label"]}
    return Bundle(path=Path("."), candidate=candidate, schema=schema,
                  metadata={"product": "reviews", "task": "text-classification", "target": "label",
                            "family": "transformer", "order_id": "o-1"})


@pytest.fixture(scope="module")
def bundle(tiny_bert: Path) -> Bundle:
    return _bundle(tiny_bert, lora_rank=0)


def test_wordpiece_gives_the_hugging_face_ids_on_chinese_english_and_mixed_text(tiny_bert: Path) -> None:
    from mofang.models.transformer.runtime import load_tokenizer

    tokenizer = load_tokenizer(tiny_bert)  # the MiniLM (uncased BERT) WordPiece vocabulary
    spec, vocab = tokenizer_spec(tokenizer)
    assert spec["lowercase"] and spec["handle_chinese_chars"] and "[SEP]" in spec["added"]
    mine = WordPiece(spec, vocab)
    for text in TEXTS:
        assert mine.encode(text) == tokenizer(text, add_special_tokens=False)["input_ids"], text
    # with the special tokens around and a long text cut to head+tail, as the classifier encodes it
    pipeline = {"text_columns": ["t"], "tokenizer": spec, "vocab_file": "vocab.txt", "vocab_size": len(vocab),
                "prefix_ids": [tokenizer.cls_token_id], "suffix_ids": [tokenizer.sep_token_id], "max_length": 16,
                "pad_id": tokenizer.pad_token_id}
    for keep in ("head", "tail", "head+tail"):
        runner = TransformerText.__new__(TransformerText)
        runner.spec, runner.tokenizer = {**pipeline, "keep": keep}, mine
        runner.prefix_ids, runner.suffix_ids = pipeline["prefix_ids"], pipeline["suffix_ids"]
        runner.max_length, runner.keep, runner.pad_id = 16, keep, tokenizer.pad_token_id
        assert [runner.ids(t) for t in TEXTS] == encode_window(tokenizer, TEXTS, 16, keep), keep


def test_wordpiece_follows_a_cased_tokenizer_without_accent_stripping(tmp_path: Path) -> None:
    from transformers import BertTokenizerFast

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Café", "café", "Cafe", "cafe", "The", "the", "movie",
             "##s", "##ie", "mov", "今", "天", "今天", "好", ",", "!", "，", "。", "Ω", "naïve", "na", "##ïve"]
    (tmp_path / "vocab.txt").write_text("\n".join(words), "utf-8")
    for lower, accents, chinese in [(False, False, True), (False, None, False), (True, False, True)]:
        tokenizer = BertTokenizerFast(str(tmp_path / "vocab.txt"), do_lower_case=lower, strip_accents=accents,
                                      tokenize_chinese_chars=chinese)
        spec, vocab = tokenizer_spec(tokenizer)
        mine = WordPiece(spec, vocab)
        for text in ["Café café CAFÉ The movies, naïve!", "今天好。今天 好，The movie", "Ωmega ΩΩ x" * 3]:
            assert mine.encode(text) == tokenizer(text, add_special_tokens=False)["input_ids"], (lower, accents, text)


def test_a_byte_level_bpe_tokenizer_is_skipped_with_the_reason(tmp_path: Path, bundle: Bundle) -> None:
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(["a tiny corpus for a tiny byte-level tokenizer 中文也有"] * 20, vocab_size=300,
                            min_frequency=1, show_progress=False)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, pad_token="<pad>")
    with pytest.raises(NotExportable, match="tokenizer is a byte-level BPE; the numpy-only edge runner reproduces "
                                            "BERT-style WordPiece tokenizers only"):
        tokenizer_spec(tokenizer)
    estimator = TransformerClassifier()  # a transformer candidate with that tokenizer: refused before any export
    estimator.tokenizer_ = tokenizer
    candidate = Candidate("transformer", "transformer", "text-classification", {}, FEATURES,
                          bundle.candidate.pipeline_, estimator, classes=["neg", "pos"])
    with pytest.raises(NotExportable, match="byte-level BPE"):
        write_edge_folder(candidate, bundle.schema, "# card", tmp_path / "edge", quantize=False)
    assert not (tmp_path / "edge" / "model.onnx").exists()


@pytest.mark.parametrize(("lora_rank", "multi_label"), [(0, False), (4, False), (0, True)])
def test_fp32_and_int8_exports_answer_like_the_served_product(tmp_path: Path, tiny_bert: Path, bundle: Bundle,
                                                              lora_rank: int, multi_label: bool) -> None:
    served = bundle if lora_rank == 0 and not multi_label else _bundle(tiny_bert, lora_rank, multi_label)
    test = reviews(200, 7)
    test.loc[0, "body"] = None  # a missing text column reads as ""
    records = records_of(test, served.feature_names)
    built = write_edge_folder(served.candidate, served.schema, "# card", tmp_path / "fp32", quantize=False)
    spec = json.loads((tmp_path / "fp32" / "preprocess.json").read_text("utf-8"))
    assert spec["pipeline"]["kind"] == "transformer" and (tmp_path / "fp32" / "vocab.txt").exists()
    fp32 = check_parity(served, tmp_path / "fp32", records, built["quantized"], transformer=True)
    assert fp32.passed and fp32.labels_match and fp32.max_abs_diff <= 1e-4, fp32.describe()
    built = write_edge_folder(served.candidate, served.schema, "# card", tmp_path / "int8", quantize=True)
    int8 = check_parity(served, tmp_path / "int8", records, built["quantized"], transformer=True)
    assert built["quantized"] and int8.passed and int8.min_agreement == 0.98, int8.describe()
    assert (tmp_path / "int8" / "model.onnx").stat().st_size < (tmp_path / "fp32" / "model.onnx").stat().st_size
    print(f"\nlora_rank={lora_rank} multi_label={multi_label}: fp32 {fp32.describe()}; int8 {int8.describe()}")
    # dynamic axes: one row, and a batch of rows of very different lengths, in one session
    edge = EdgeModel(tmp_path / "fp32")
    assert edge.predict(records[:1]) == served.predict_records(records[:1])


def test_the_signed_bundle_answers_like_the_served_product_in_a_fresh_venv(edge_python: Path, tmp_path: Path,
                                                                             bundle: Bundle) -> None:
    test = reviews(120, 9)
    archive = tmp_path / "edge.tar.gz"
    record = build_edge_archive(bundle, test, "# reviews\n", archive, load_factory_key(tmp_path / "home"),
                                quantize=False, about={"product": "reviews"})
    assert record["parity"]["labels_match"] and record["parity"]["agreement"] == 1.0, record
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    folder = next(p.parent for p in unpacked.rglob("preprocess.json"))
    rows = test.drop(columns="label").head(40).to_dict(orient="records")
    rows[0]["body"] = "今天的 movie 是 wonderful 好评!!! " * 20  # long: cut to head+tail like the product
    (tmp_path / "rows.json").write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
    out = tmp_path / "answers.json"
    run = subprocess.run([str(edge_python), str(folder / "mofang_edge_runner.py"), str(tmp_path / "rows.json"),
                          "--out", str(out)], capture_output=True, text=True, env=bare_env(), timeout=120)
    assert run.returncode == 0, run.stderr
    edge = json.loads(out.read_text("utf-8"))
    with running_app(create_app(bundle, version=1)) as url:
        served = httpx.post(f"{url}/predict", json={"rows": rows}, timeout=60).json()
    assert [a["prediction"] for a in edge] == served["predictions"]
    for mine, theirs in zip(edge, served["probabilities"], strict=True):
        assert mine["probabilities"].keys() == theirs.keys()
        assert max(abs(mine["probabilities"][c] - theirs[c]) for c in theirs) <= 1e-4


def test_an_int8_model_that_fails_parity_falls_back_to_fp32_and_a_failing_fp32_is_refused(
        tmp_path: Path, bundle: Bundle, monkeypatch: pytest.MonkeyPatch) -> None:
    import mofang.integration.edge as edge

    test, key = reviews(30, 3), load_factory_key(tmp_path / "home")
    monkeypatch.setattr(edge, "TRANSFORMER_INT8_TOLERANCE", -1.0)
    record = build_edge_archive(bundle, test, "#", tmp_path / "a.tar.gz", key, quantize=True, about={})
    assert record["quantization"].startswith("int8 failed parity (30 test rows: 100.0% of labels agree")
    assert record["quantization"].endswith("kept fp32") and not record["parity"]["quantized"]
    monkeypatch.setattr(edge, "PROBA_TOLERANCE", -1.0)
    with pytest.raises(edge.EdgeRefused, match="does not answer like the product on 30 test rows: labels match"):
        build_edge_archive(bundle, test, "#", tmp_path / "b.tar.gz", key, quantize=False, about={})
    assert not (tmp_path / "b.tar.gz").exists()
