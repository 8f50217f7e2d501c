"""Text encoding detection: UTF-8 (with or without BOM), GBK/GB18030 or Big5 by plausibility, then a guess."""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from functools import cache

from mofang.core.errors import DataError

_MAGIC = {b"PK\x03\x04": "a zip/xlsx file", b"PAR1": "a parquet file", b"%PDF": "a PDF file",
          b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
          b"SQLite format 3": "an SQLite database", b"\x1f\x8b": "a gzip archive"}
_GB = (("gbk", "GBK"), ("gb18030", "GB18030"))
_BIG5 = ("big5", "cp950", "big5hkscs")
SCORE_SAMPLE = 200_000  # characters scored per candidate decoding
BIG5_MARGIN = 0.1  # Big5 must be this much more plausible than GBK: short texts tie and GBK is far more common


def decode_text(data: bytes, encoding: str = "auto", *, source: str | None = None) -> tuple[str, str]:
    """Decode a text file's bytes; return (text, encoding name). Raise DataError when it is not text."""
    if encoding.lower() != "auto":
        return _decode_strict(data, encoding, source), encoding
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_strict(data, "utf-16", source), "UTF-16"
    _reject_binary(data, source)
    try:
        text = data.decode("utf-8-sig")
        return text, "UTF-8-BOM" if data.startswith(codecs.BOM_UTF8) else "UTF-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    chinese = _decode_chinese(data)
    if chinese is not None:
        return chinese
    return _decode_guess(data, source, utf8_error)


def plausibility(text: str) -> float:
    """Share of the non-ASCII characters that are common Chinese characters (simplified or traditional)
    or CJK punctuation: near 1 for a right decoding, far lower for Big5 read as GBK or the reverse."""
    sample = [c for c in text[:SCORE_SAMPLE] if not c.isascii()]
    if not sample:
        return 1.0
    common = _common_chinese()
    return sum(c in common or _is_cjk_punctuation(c) for c in sample) / len(sample)


def _decode_chinese(data: bytes) -> tuple[str, str] | None:
    """The more plausible of the GBK/GB18030 and the Big5 decodings, or None when neither decodes."""
    gb = _first_decoding(data, _GB)
    big5 = _first_decoding(data, [(name, "Big5") for name in _BIG5])
    if gb is None or big5 is None:
        return gb or big5
    return big5 if plausibility(big5[0]) > plausibility(gb[0]) + BIG5_MARGIN else gb


def _first_decoding(data: bytes, names: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
    for name, label in names:
        try:
            return data.decode(name), label
        except UnicodeDecodeError:
            continue
    return None


@cache
def _common_chinese() -> frozenset[str]:
    """GB2312 level 1 (3,755 common simplified) and Big5 level 1 (5,401 common traditional) characters,
    taken from the codecs themselves so no table has to be shipped."""
    chars: set[str] = set()
    for codec, leads, trails in (("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF)),
                                 ("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)])):
        for lead in leads:
            for trail in trails:
                try:
                    chars.add(bytes((lead, trail)).decode(codec))
                except UnicodeDecodeError:
                    continue
    return frozenset(chars)


def _is_cjk_punctuation(char: str) -> bool:
    return "\u3000" <= char <= "\u303f" or "\uff00" <= char <= "\uffef" or char in "“”‘’…—·"


def _reject_binary(data: bytes, source: str | None) -> None:
    head = data[:16]
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise DataError(f"this is {what}, not a text table; set the source's format or fix the file",
                            source=source)
    if b"\x00" in data[:65536]:
        offset = data.index(b"\x00")
        raise DataError(f"binary data (a NUL byte at offset {offset}), not text", source=source,
                        row=data[:offset].count(b"\n") + 1)


def _decode_strict(data: bytes, encoding: str, source: str | None) -> str:
    try:
        return data.decode(encoding)
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}'", source=source) from None
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataError(f"not valid {encoding} text (byte {exc.start}: {exc.reason}); "
                        "try encoding: auto", source=source, row=line) from None


def _decode_guess(data: bytes, source: str | None, utf8_error: UnicodeDecodeError) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    # UTF-16/32 without a BOM would have shown NUL bytes in a text table: such a guess is noise
    guesses = [m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
    best = min(guesses, key=lambda m: m.chaos, default=None)
    if best is None or best.chaos > 0.2 or not _looks_like_text(str(best)):
        offset = utf8_error.start
        raise DataError(f"cannot detect the text encoding: byte {offset} (0x{data[offset]:02x}) is not valid "
                        "UTF-8, and the file is not GBK, GB18030 or Big5 either; set the source's encoding",
                        source=source, row=data[:offset].count(b"\n") + 1)
    return str(best), best.encoding


def _looks_like_text(text: str) -> bool:
    """A single-byte code page decodes any bytes; real text still has ASCII separators, spaces and digits."""
    sample = text[:65536]
    ascii_share = sum(c.isascii() for c in sample) / max(1, len(sample))
    return ascii_share >= 0.2 and any(sep in sample for sep in ",;\t| \n")
