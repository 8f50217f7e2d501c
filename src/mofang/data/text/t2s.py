"""Traditional → simplified Chinese with OpenCC, run only on values holding a character it would change."""

from __future__ import annotations

from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from mofang.data.text.utf8 import string_array

# CJK unified ideographs (with extension A), compatibility ideographs, and extension B
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF))


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def traditional_chars_pattern() -> str:
    """A regex class of every character OpenCC's t2s changes on its own (found by converting each once)."""
    chars = [chr(cp) for lo, hi in _CJK_RANGES for cp in range(lo, hi + 1)]
    converted = _converter().convert("\n".join(chars)).split("\n")
    changing = [c for c, s in zip(chars, converted, strict=True) if c != s]
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in changing) + "]"


def traditional_to_simplified(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Convert traditional Chinese to simplified (phrase-aware, via OpenCC) in the values that need it."""
    values = string_array(values)
    marked = pc.fill_null(pc.match_substring_regex(values, traditional_chars_pattern()), False)
    if not pc.any(marked).as_py():
        return values
    convert = _converter().convert
    part = pa.array([convert(v) for v in values.filter(marked).to_pylist()], type=values.type)
    return pc.replace_with_mask(values, marked, part)
