"""Vectorized text normalization of Arrow string arrays: control characters, whitespace, width, case."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mofang.data.text.html import strip_html
from mofang.data.text.t2s import traditional_to_simplified
from mofang.data.text.utf8 import apply_to_rows, positions_of, string_array, translate_bmp_chars, utf8_buffers

# C0/C1 controls except \t and \n, plus zero-width characters and the BOM; \r goes too, so CRLF becomes LF
CONTROL_CHARS = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\x{200b}-\x{200d}\x{2060}\x{feff}]"
LINE_BREAK_RUN = r"[\s\p{Zs}]*\n[\s\p{Zs}]*"
SPACE_RUN = r"[\t\x0b\x0c\r \p{Zs}]+"
# Chinese punctuation that `punctuation=True` turns into ASCII; most of it lies in the full-width block
CHINESE_PUNCTUATION = {"。": ".", "，": ",", "！": "!", "？": "?", "：": ":", "；": ";", "（": "(", "）": ")",
                       "、": ","}


def _table(mapping: dict[int, str]) -> np.ndarray:
    table = np.zeros(0x10000, dtype=np.uint8)
    for codepoint, ascii_char in mapping.items():
        table[codepoint] = ord(ascii_char)
    return table


_FULLWIDTH = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)} | {0x3000: " "}
_PUNCT = {ord(k): v for k, v in CHINESE_PUNCTUATION.items()}
_TABLES = {
    (True, True): _table(_FULLWIDTH | _PUNCT),
    (True, False): _table({cp: c for cp, c in _FULLWIDTH.items() if cp not in _PUNCT}),
    (False, True): _table(_PUNCT),
}
_LEADS = (0xE3, 0xEF)  # UTF-8 lead bytes of U+3000..U+3FFF and U+F000..U+FFFF, where every mapped char lies




def _following(data: np.ndarray, at: np.ndarray, k: int) -> np.ndarray:
    return np.concatenate((data, np.zeros(k, np.uint8)))[at + k] if at.size else at.astype(np.uint8)


def _rows_with_control_chars(values: pa.Array) -> np.ndarray:
    """Values that may hold a control or zero-width character (a cheap byte scan; the regex decides)."""
    data, offsets = utf8_buffers(values)
    at = positions_of(data, (0x7F, 0xC2, 0xE2, 0xEF), below=0x20)
    lead, nxt = data[at], _following(data, at, 1)
    hit = ((lead < 0x80) & (lead != 0x09) & (lead != 0x0A)) | ((lead == 0xC2) & (nxt >= 0x80) & (nxt <= 0x9F)) \
        | ((lead == 0xE2) & ((nxt == 0x80) | (nxt == 0x81))) | ((lead == 0xEF) & (nxt == 0xBB))
    return _rows(offsets, at[hit])


def _rows_with_loose_whitespace(values: pa.Array) -> np.ndarray:
    """Values whose whitespace is not already single ASCII spaces between other characters."""
    data, offsets = utf8_buffers(values)
    at = positions_of(data, (0x20, 0xC2, 0xE1, 0xE2, 0xE3), below=0x0E)
    lead, nxt, nxt2 = data[at], _following(data, at, 1), _following(data, at, 2)
    edges = np.zeros(data.size + 1, dtype=bool)
    edges[offsets] = True  # a value's first byte, or the byte after its last
    space = lead == 0x20
    hit = (lead < 0x20) | (space & ((nxt == 0x20) | edges[at] | edges[at + 1])) \
        | ((lead == 0xC2) & (nxt == 0xA0)) | ((lead == 0xE2) & ((nxt == 0x80) | (nxt == 0x81))) \
        | ((lead == 0xE3) & (nxt == 0x80) & (nxt2 == 0x80)) | ((lead == 0xE1) & (nxt == 0x9A) & (nxt2 == 0x80))
    return _rows(offsets, at[hit])


def _rows(offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
    rows = np.zeros(len(offsets) - 1, dtype=bool)
    if positions.size:
        rows[np.searchsorted(offsets, positions, side="right") - 1] = True
    return rows


def remove_control_chars(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Drop control and zero-width characters; tabs and line feeds stay (they are whitespace)."""
    values = string_array(values)
    return apply_to_rows(values, _rows_with_control_chars(values),
                         lambda part: pc.replace_substring_regex(part, CONTROL_CHARS, ""))


def collapse_whitespace(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Runs of whitespace holding a line break become one '\\n', other runs one space; ends are stripped."""
    values = string_array(values)
    return apply_to_rows(values, _rows_with_loose_whitespace(values), _collapse)


def _collapse(values: pa.Array) -> pa.Array:
    values = pc.replace_substring_regex(values, LINE_BREAK_RUN, "\n")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(values, SPACE_RUN, " "))


def fullwidth_to_halfwidth(values: pa.Array | pa.ChunkedArray, *, punctuation: bool = False) -> pa.Array:
    """Full-width ASCII letters, digits, punctuation and the ideographic space to their ASCII forms;
    the Chinese punctuation 。，！？：；（）、 only when `punctuation` is true."""
    return translate_bmp_chars(values, _TABLES[(True, punctuation)], _LEADS)


def chinese_punctuation_to_ascii(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Only the Chinese punctuation 。，！？：；（）、 to ASCII."""
    return translate_bmp_chars(values, _TABLES[(False, True)], _LEADS)


def lowercase_latin(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A–Z to a–z; other characters are left alone (run after `fullwidth_to_halfwidth` for full-width ones)."""
    return pc.ascii_lower(string_array(values))


@dataclass(frozen=True)
class TextNormalization:
    """Which normalization steps to apply; they run in a fixed order (HTML first, whitespace last)."""

    control_chars: bool = True
    whitespace: bool = True
    fullwidth: bool = True
    punctuation: bool = False
    lowercase: bool = False
    html: bool = False
    t2s: bool = False

    def enabled(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name)]


def normalize_text(values: pa.Array | pa.ChunkedArray, how: TextNormalization | None = None) -> pa.Array:
    """Apply the steps of `how` (defaults: control characters, full width, whitespace) to every value."""
    how = how or TextNormalization()
    out = string_array(values)
    if how.html:
        out = strip_html(out)
    if how.control_chars:
        out = remove_control_chars(out)
    if how.fullwidth:
        out = fullwidth_to_halfwidth(out, punctuation=how.punctuation)
    elif how.punctuation:
        out = chinese_punctuation_to_ascii(out)
    if how.t2s:
        out = traditional_to_simplified(out)
    if how.lowercase:
        out = lowercase_latin(out)
    if how.whitespace:
        out = collapse_whitespace(out)
    return out


def changed_cells(before: pa.Array | pa.ChunkedArray, after: pa.Array | pa.ChunkedArray) -> int:
    """How many values differ (a null stays null, so nulls never count)."""
    return int(pc.sum(pc.not_equal(string_array(before), string_array(after))).as_py() or 0)
