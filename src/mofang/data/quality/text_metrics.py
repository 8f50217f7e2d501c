"""Per-text quality measures: length, repetition, garbage share and script-based language."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LANGUAGES = ("zh", "en", "mixed", "other")

# letters of any script, marks, digits, whitespace and the punctuation Chinese and English text use;
# anything else (control, private-use, U+FFFD, stray symbols, emoji) counts as garbage
_CLEAN_CHAR = (r"[\p{L}\p{M}\p{N}\s!-/:-@\[-`{-~\x{00B7}\x{2010}-\x{2027}\x{2030}-\x{205E}"
               r"\x{3000}-\x{303F}\x{FF01}-\x{FF65}\x{FE30}-\x{FE4F}\x{00A5}\x{FFE5}]")
# classic mojibake made of "clean" characters, with the characters each match adds to the garbage count:
# GBK-decoded replacement characters / uninitialised memory, and the lead byte of UTF-8 read as Latin-1
_MOJIBAKE = ((r"锟斤拷|烫烫烫|屯屯屯", 3),
             (r"[ÃÂâ][\x{0080}-\x{00BF}\x{2018}-\x{203A}\x{20AC}\x{0152}-\x{0178}]", 1))
_HAN = r"\p{Han}"
_LATIN_WORD = r"\p{Latin}+"
_OTHER_LETTER = r"[^\P{L}\p{Han}\p{Latin}]"


def _counts(values: pa.Array, pattern: str) -> np.ndarray:
    return pc.count_substring_regex(values, pattern).to_numpy(zero_copy_only=False).astype(np.float64)


def char_lengths(values: pa.Array) -> np.ndarray:
    """Characters per text (NaN for a missing text)."""
    return pc.utf8_length(values).to_numpy(zero_copy_only=False).astype(np.float64)


def garbage_ratios(values: pa.Array) -> np.ndarray:
    """Share of characters that are not letters, digits, whitespace or common CJK/ASCII punctuation,
    plus known mojibake sequences (0 for an empty text, NaN for a missing one)."""
    length = char_lengths(values)
    bad = length - _counts(values, _CLEAN_CHAR) + sum(w * _counts(values, p) for p, w in _MOJIBAKE)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(length > 0, np.minimum(bad, length) / np.maximum(length, 1), np.where(np.isnan(length),
                                                                                               np.nan, 0.0))


def languages(values: pa.Array, *, share: float = 0.7) -> np.ndarray:
    """zh / en / mixed / other per text by script: Han characters against Latin words (a Chinese character
    and an English word carry about the same meaning), other scripts' letters; None for a missing text."""
    han, latin, other = _counts(values, _HAN), _counts(values, _LATIN_WORD), _counts(values, _OTHER_LETTER)
    total = han + latin + other
    safe = np.maximum(total, 1)
    out = np.full(len(values), "mixed", dtype=object)
    out[(other / safe >= 0.5) | (total == 0)] = "other"
    out[han / safe >= share] = "zh"
    out[latin / safe >= share] = "en"
    out[np.isnan(total)] = None
    return out


def repetition_ratios(values: pa.Array, *, n: int = 3) -> np.ndarray:
    """Share of repeated content: the larger of duplicated character n-grams and duplicated non-empty lines
    (0 for texts too short to judge, NaN for a missing text)."""
    out = np.full(len(values), np.nan)
    for i, text in enumerate(values.to_pylist()):
        if text is not None:
            out[i] = max(_ngram_repetition(text, n), _line_repetition(text))
    return out


def _ngram_repetition(text: str, n: int) -> float:
    compact = "".join(text.split())
    total = len(compact) - n + 1
    if total < 2:
        return 0.0
    return 1.0 - len({compact[i:i + n] for i in range(total)}) / total


def _line_repetition(text: str) -> float:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return 1.0 - len(set(lines)) / len(lines) if len(lines) > 1 else 0.0


def histogram(values: np.ndarray, *, bins: int = 20, log: bool = False, upper: float | None = None) -> dict:
    """Bin edges and counts of the finite values, JSON-ready; `log` spaces the edges for long-tailed counts."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"edges": [], "counts": []}
    top = float(upper if upper is not None else max(finite.max(), 1.0))
    if log:
        edges = np.unique(np.concatenate([[0.0], np.round(np.geomspace(1.0, top + 1.0, bins))]))
    else:
        edges = np.linspace(0.0, top, bins + 1)
    counts, edges = np.histogram(np.clip(finite, edges[0], edges[-1]), bins=edges)
    return {"edges": [round(float(e), 4) for e in edges], "counts": counts.astype(int).tolist()}
