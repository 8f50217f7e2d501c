"""What near-duplicate detection compares: normalized text content, cut into hashed character n-grams."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mofang.data.text.normalize import TextNormalization, normalize_text
from mofang.data.text.utf8 import decode_codepoints

COMPARABLE = TextNormalization(punctuation=True, lowercase=True)  # what "the same text" means for dedup
IGNORED_IN_CONTENT = r"[\s\p{P}]+"  # whitespace and punctuation carry no content for near-duplicates
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def comparable_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Text as compared for exact duplicates: no control characters, ASCII width, lowercase, single spaces."""
    return normalize_text(values, COMPARABLE)


def content_text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Text as compared for near duplicates: `comparable_text` without whitespace and punctuation."""
    return pc.replace_substring_regex(comparable_text(values), IGNORED_IN_CONTENT, "")


def mix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer: spreads every input bit over the whole 64-bit word (in place)."""
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values


def shingle_hashes(values: pa.Array | pa.ChunkedArray, ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """32-bit hashes of every character n-gram of every value, grouped by value, and per-value offsets.

    A value shorter than `ngram` has one shingle, itself, so it only matches its exact copies; an empty
    value or a null has none."""
    codepoints, char_offsets = decode_codepoints(values)
    lengths = np.diff(char_offsets)
    counts = np.where(lengths >= ngram, lengths - ngram + 1, np.minimum(lengths, 1))
    offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    hashes = np.empty(int(offsets[-1]), dtype=np.uint64)
    total = codepoints.size
    if total >= ngram:
        rolling = np.zeros(total - ngram + 1, dtype=np.uint64)
        for k in range(ngram):
            rolling *= _GOLDEN
            rolling += codepoints[k: total - ngram + 1 + k]
        long_docs = np.flatnonzero(lengths >= ngram)
        per_doc = counts[long_docs]
        local = np.arange(int(per_doc.sum()), dtype=np.int64) - np.repeat(np.cumsum(per_doc) - per_doc, per_doc)
        hashes[np.repeat(offsets[long_docs], per_doc) + local] = rolling[np.repeat(char_offsets[long_docs],
                                                                                   per_doc) + local]
    short_docs = np.flatnonzero((lengths > 0) & (lengths < ngram))
    if short_docs.size:
        whole = np.full(short_docs.size, np.uint64(ngram), dtype=np.uint64)  # seeded apart from full n-grams
        for k in range(ngram - 1):
            present = lengths[short_docs] > k
            step = np.where(present, codepoints[np.minimum(char_offsets[short_docs] + k, total - 1)], 0)
            whole = np.where(present, whole * _GOLDEN + step.astype(np.uint64), whole)
        hashes[offsets[short_docs]] = whole
    return (mix64(hashes) >> np.uint64(32)).astype(np.uint32), offsets
