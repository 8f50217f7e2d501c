"""Tokenizer coverage: can a base model's tokenizer read an order's text at all?

"Cannot read" means the tokenizer has no token for what it sees, so the model gets placeholders
instead of the text. What that looks like depends on the tokenizer type, and all three are counted:

- **unknown token** (WordPiece — BERT/MiniLM; SentencePiece/Unigram without byte fallback — T5, XLM-R
  for rare scripts): a character outside the vocabulary becomes `[UNK]`/`<unk>`. MiniLM splits CJK
  text into single characters and has only a few hundred of them, so most Chinese becomes `[UNK]`.
- **byte fragments** (byte-level BPE — GPT-2, RoBERTa, Qwen, Llama 3): there is no unknown token, every
  byte is representable; a script the vocabulary was not trained on falls apart into tokens that are
  pieces of a character's UTF-8 bytes, which decode alone to U+FFFD. A CJK character split this way
  costs 2–3 tokens that mean nothing by themselves.
- **byte fallback** (SentencePiece with `byte_fallback` — Llama 2, Mistral): unknown characters become
  `<0xE4>`-style byte tokens; counted the same way.

The ratio is unreadable tokens / all tokens (special tokens not added) on a seeded sample of rows. It
says whether the tokenizer can represent the text; a low ratio does not prove the model was trained on
the language, which is why the catalog's `language` field is also consulted when choosing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

THRESHOLD = 0.10
SAMPLE_ROWS = 500
MAX_CHARS = 1000  # per sampled row: long documents say nothing more about the script and cost time
_BYTE_FALLBACK = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
_SCRIPTS: tuple[tuple[str, str, tuple[tuple[int, int], ...]], ...] = (
    # (name, catalog language code, code point ranges)
    ("Chinese", "zh", ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FFFF))),
    ("Japanese", "ja", ((0x3040, 0x30FF),)),
    ("Korean", "ko", ((0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F))),
    ("Cyrillic-script text", "ru", ((0x0400, 0x04FF),)),
    ("Arabic", "ar", ((0x0600, 0x06FF),)),
    ("Thai", "th", ((0x0E00, 0x0E7F),)),
    ("Devanagari-script text", "hi", ((0x0900, 0x097F),)),
    ("Greek", "el", ((0x0370, 0x03FF),)),
    ("Hebrew", "he", ((0x0590, 0x05FF),)),
    ("Latin-script text", "en", ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F))),
)


@dataclass(frozen=True)
class Coverage:
    """How much of a text sample a tokenizer could not read."""

    model: str
    rows: int
    tokens: int
    unknown: int  # unknown-token ids
    fragments: int  # byte-level pieces of a character (decode alone to U+FFFD) or <0xNN> byte fallbacks
    unk_token: str | None
    script: str  # dominant script of the sample, e.g. "Chinese"
    language: str  # its catalog code, e.g. "zh"

    @property
    def ratio(self) -> float:
        return (self.unknown + self.fragments) / self.tokens if self.tokens else 0.0

    def readable(self, threshold: float = THRESHOLD) -> bool:
        return self.tokens > 0 and self.ratio <= threshold

    def what(self) -> str:
        """The unreadable tokens in words, e.g. "[UNK]" or "byte fragments of characters"."""
        if self.fragments == 0 or self.unknown >= 4 * self.fragments:
            return self.unk_token or "unknown"
        if self.unknown * 4 <= self.fragments:
            return "byte fragments of characters missing from the vocabulary"
        return (f"unreadable ({self.unknown / self.tokens:.0%} {self.unk_token or 'unknown'}, "
                f"{self.fragments / self.tokens:.0%} byte fragments)")

    def summary(self) -> str:
        return (f"{self.ratio:.1%} of tokens are {self.what()} on this order's text "
                f"(sample of {self.rows} rows, {self.tokens} tokens, mostly {self.script})")

    def skip_reason(self, threshold: float = THRESHOLD) -> str:
        """Why this checkpoint is skipped, e.g. "minilm-l6 skipped: 63% of tokens are [UNK] ..."."""
        if self.tokens == 0:
            return f"{self.model} skipped: the sample of {self.rows} rows has no text to tokenize"
        return (f"{self.model} skipped: {self.ratio:.0%} of tokens are {self.what()} on this order's text "
                f"(sample of {self.rows} rows; more than {threshold:.0%} means the tokenizer cannot read it); "
                f"point base_model at a checkpoint that reads {self.script}")


def sample_texts(texts: Sequence[Any] | np.ndarray, rows: int = SAMPLE_ROWS, seed: int = 0) -> list[str]:
    """Up to `rows` non-empty texts, a seeded random sample in their original order, each cut to
    MAX_CHARS."""
    values = [str(t) for t in np.asarray(texts, dtype=object).ravel()
              if t is not None and not (isinstance(t, float) and np.isnan(t)) and str(t).strip()]
    if len(values) > rows:
        keep = np.sort(np.random.default_rng(seed).choice(len(values), size=rows, replace=False))
        values = [values[i] for i in keep]
    return [v[:MAX_CHARS] for v in values]


def dominant_script(texts: Sequence[str]) -> tuple[str, str]:
    """(name, language code) of the script most letters of `texts` are in; kana beats Han once it is
    a fifth of the CJK letters (Japanese mixes both)."""
    counts = {name: 0 for name, _, _ in _SCRIPTS}
    for text in texts:
        for char in text:
            point = ord(char)
            if point < 0x41:
                continue
            for name, _, ranges in _SCRIPTS:
                if any(lo <= point <= hi for lo, hi in ranges):
                    counts[name] += 1
                    break
    if counts["Japanese"] and counts["Japanese"] * 5 >= counts["Japanese"] + counts["Chinese"]:
        counts["Japanese"] += counts.pop("Chinese")
    name = max(counts, key=lambda k: counts[k])
    if counts[name] == 0:
        return "this text's script", "unknown"
    return name, next(code for n, code, _ in _SCRIPTS if n == name)


def measure_coverage(tokenizer: Any, texts: Sequence[Any] | np.ndarray, *, model: str,
                     rows: int = SAMPLE_ROWS, seed: int = 0) -> Coverage:
    """Tokenize a seeded sample of `texts` and count the tokens the tokenizer could not read."""
    sample = sample_texts(texts, rows, seed)
    script, language = dominant_script(sample)
    if not sample:
        return Coverage(model, 0, 0, 0, 0, getattr(tokenizer, "unk_token", None), script, language)
    encoded = tokenizer([unicodedata.normalize("NFC", t) for t in sample], add_special_tokens=False,
                        verbose=False)["input_ids"]
    ids = np.fromiter((i for row in encoded for i in row), dtype=np.int64)
    unique, counts = np.unique(ids, return_counts=True)
    unk_id = getattr(tokenizer, "unk_token_id", None)
    unknown = fragments = 0
    for token_id, count in zip(unique.tolist(), counts.tolist(), strict=True):
        if unk_id is not None and token_id == unk_id:
            unknown += count
            continue
        piece = tokenizer.convert_ids_to_tokens(token_id)
        if (isinstance(piece, str) and _BYTE_FALLBACK.match(piece)) or "\ufffd" in tokenizer.decode([token_id]):
            fragments += count
    return Coverage(model=model, rows=len(sample), tokens=int(ids.size), unknown=unknown, fragments=fragments,
                    unk_token=getattr(tokenizer, "unk_token", None), script=script, language=language)
