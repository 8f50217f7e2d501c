"""A fine-tuned transformer text classifier for the edge: its encoder as ONNX (dynamic batch and sequence
axes, probabilities out) and its WordPiece tokenizer as data the numpy-only runner reproduces."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

from mofang.integration.onnx_export import OPSET, OnnxModel, proba_columns
from mofang.integration.preprocess import NotExportable

VOCAB_FILE = "vocab.txt"
EDGE_BATCH = 32  # rows per forward pass in the runner (length-sorted, padded per batch)


def is_transformer(candidate: Any) -> bool:
    return type(getattr(candidate, "estimator_", None)).__name__ == "TransformerClassifier"


def tokenizer_spec(tokenizer: Any) -> tuple[dict[str, Any], list[str]]:
    """The tokenizer's settings and its vocabulary (in id order) for the runner's WordPiece; NotExportable
    naming what the runner cannot reproduce (a byte-level BPE, a SentencePiece model, another normalizer)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise NotExportable(f"the transformer's tokenizer ({type(tokenizer).__name__}) has no tokenizer.json form "
                            "the edge runner could read")
    data = json.loads(backend.to_str())
    model = data.get("model") or {}
    kind = model.get("type")
    if kind != "WordPiece":
        raise NotExportable(f"the transformer's tokenizer is {_describe(data)}; the numpy-only edge runner "
                            "reproduces BERT-style WordPiece tokenizers only")
    normalizer = data.get("normalizer") or {"type": None}
    if normalizer.get("type") not in ("BertNormalizer", None):
        raise NotExportable(f"the transformer's WordPiece tokenizer normalizes with {normalizer.get('type')}; the "
                            "edge runner reproduces BertNormalizer only")
    pre = (data.get("pre_tokenizer") or {}).get("type")
    if pre != "BertPreTokenizer":
        raise NotExportable(f"the transformer's WordPiece tokenizer splits words with {pre}; the edge runner "
                            "reproduces BertPreTokenizer only")
    added = {}
    for token in data.get("added_tokens") or []:
        if token.get("normalized") or token.get("single_word") or token.get("lstrip") or token.get("rstrip"):
            raise NotExportable(f"the tokenizer's added token {token['content']!r} has matching rules the edge "
                                "runner does not reproduce")
        added[token["content"]] = int(token["id"])
    vocab_ids: dict[str, int] = model["vocab"]
    vocab = [""] * len(vocab_ids)
    for token, i in vocab_ids.items():
        if not 0 <= i < len(vocab) or vocab[i] or "\n" in token or "\r" in token:
            raise NotExportable("the tokenizer's vocabulary is not one token per id 0..n-1")
        vocab[i] = token
    bert = normalizer.get("type") == "BertNormalizer"
    spec = {"model": "WordPiece", "unk_token": model.get("unk_token", "[UNK]"),
            "continuing_subword_prefix": model.get("continuing_subword_prefix") or "##",
            "max_input_chars_per_word": int(model.get("max_input_chars_per_word") or 100),
            "clean_text": bool(normalizer.get("clean_text", True)) if bert else False,
            "handle_chinese_chars": bool(normalizer.get("handle_chinese_chars", True)) if bert else False,
            "strip_accents": normalizer.get("strip_accents") if bert else False,
            "lowercase": bool(normalizer.get("lowercase", True)) if bert else False,
            "added": added}
    return spec, vocab


def _describe(data: dict[str, Any]) -> str:
    """A tokenizer.json's model in words: "byte-level BPE", "SentencePiece Unigram", ..."""
    kind = (data.get("model") or {}).get("type") or "unknown"
    parts = [data.get("pre_tokenizer") or {}, data.get("decoder") or {}]
    for part in list(parts):
        parts += part.get("pretokenizers") or part.get("decoders") or []
    types = {p.get("type") for p in parts}
    if kind == "BPE" and "ByteLevel" in types:
        return "a byte-level BPE"
    if "Metaspace" in types:
        return f"a SentencePiece {kind}"
    return f"a {kind} model"


def pipeline_spec(candidate: Any) -> tuple[dict[str, Any], list[str]]:
    """`preprocess.json`'s pipeline for a transformer candidate (texts joined, tokenized, windowed like
    `encode_window`) and the vocabulary to write as `vocab.txt`."""
    estimator = candidate.estimator_
    tokenizer = estimator.tokenizer_
    pipeline = candidate.pipeline_
    if getattr(pipeline, "mode", None) != "text-raw":
        raise NotExportable("a transformer candidate without its raw-text pipeline has no edge form")
    if getattr(pipeline, "tabular_", None) is not None:
        raise NotExportable("a transformer with other feature columns has no edge form")
    tokens, vocab = tokenizer_spec(tokenizer)
    full = tokenizer("x")["input_ids"]
    plain = tokenizer("x", add_special_tokens=False)["input_ids"]
    before = next((i for i in range(len(full)) if full[i:i + len(plain)] == plain), 0)
    spec = {"kind": "transformer", "text_columns": list(pipeline.text_columns), "tokenizer": tokens,
            "vocab_file": VOCAB_FILE, "vocab_size": len(vocab), "prefix_ids": [int(i) for i in full[:before]],
            "suffix_ids": [int(i) for i in full[before + len(plain):]], "max_length": int(estimator.max_length),
            "keep": estimator.keep, "pad_id": int(tokenizer.pad_token_id), "batch_size": EDGE_BATCH}
    return spec, vocab


def export_transformer(candidate: Any) -> OnnxModel:
    """The fine-tuned sequence classifier (LoRA already merged into its weights) as ONNX: `input_ids` and
    `attention_mask` (int64, batch × sequence, both dynamic) → `probabilities` (softmax over the classes,
    or one sigmoid per class for a multi-label model)."""
    import torch

    estimator = candidate.estimator_
    model = estimator.model_
    if hasattr(model, "merge_and_unload"):  # a peft model that kept its adapters
        model = model.merge_and_unload()
    multi_label = bool(getattr(estimator, "multi_label_", False))

    class Probabilities(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            logits = self.inner(input_ids=input_ids, attention_mask=attention_mask).logits.float()
            return torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=-1)

    # eval before export: the exporter restores the wrapper's mode afterwards, and a new module trains
    wrapper = Probabilities(model).eval().to("cpu")
    pad = int(estimator.tokenizer_.pad_token_id or 0)
    example = torch.tensor([[pad + 1, pad + 2, pad + 3], [pad + 1, pad + 2, pad]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.long)
    buffer = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape-dependent Python branches in transformers
            torch.onnx.export(wrapper, (example, mask), buffer, input_names=["input_ids", "attention_mask"],
                              output_names=["probabilities"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                            "attention_mask": {0: "batch", 1: "sequence"},
                                            "probabilities": {0: "batch"}})
    except Exception as exc:  # noqa: BLE001 - any exporter failure means: no edge form, with why
        raise NotExportable(f"torch.onnx could not export the transformer: {str(exc).splitlines()[0]}") from None
    finally:
        model.to(estimator.device_).eval()
    width = len(estimator.classes_)
    return OnnxModel(buffer.getvalue(), "probabilities", proba_columns(candidate, estimator, width), "tokens")


def write_vocab(folder: Path, vocab: list[str]) -> None:
    (folder / VOCAB_FILE).write_text("\n".join(vocab), "utf-8")
