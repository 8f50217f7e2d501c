"""Text encoding detection: UTF-8 (with or without BOM), GBK/GB18030 or Big5 by plausibility, then a guess."""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from mofang.core.errors import DataError

_MAGIC = {b"PK\x03\x04": "a zip/xlsx file", b"PAR1": "a parquet file", b"%PDF": "a PDF file",
          b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
          b"SQLite format 3": "an SQLite database", b"\x1f\x8b": "a gzip archive"}
_GB = (("gbk", "GBK"), ("gb18030", "GB18030"))
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
         (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))
_BIG5 = ("big5", "cp950", "big5hkscs")
SCORE_SAMPLE = 200_000  # characters scored per candidate decoding
CUT_CHARACTER_BYTES = 3  # at most this many bytes of a multi-byte character may end a file that was cut off
_CUT_REASONS = ("unexpected end of data", "incomplete multibyte sequence", "truncated data")  # the codecs' words
BIG5_MARGIN = 0.1  # Big5 must be this much more plausible than GBK: short texts tie and GBK is far more common


@dataclass(frozen=True)
class Decoded:
    """A text file's text and encoding; `cut` when its bytes ended in the middle of a character (a file cut off
    mid-write): that last partial character is left out of the text."""

    text: str
    encoding: str
    cut: bool = False


def decode_text(data: bytes, encoding: str = "auto", *, source: str | None = None) -> tuple[str, str]:
    """Decode a text file's bytes; return (text, encoding name). Raise DataError when it is not text."""
    decoded = decode(data, encoding, source=source)
    return decoded.text, decoded.encoding


def decode(data: bytes, encoding: str = "auto", *, source: str | None = None) -> Decoded:
    """Decode a text file's bytes, `encoding` given or 'auto' (detected). Raise DataError when it is not text."""
    if encoding.lower() != "auto":
        return _decode_strict(data, encoding, source)
    for bom, codec, label in _BOMS:  # UTF-32 first: its little-endian BOM starts like UTF-16's
        if data.startswith(bom):
            return _no_nul(_decode_strict(data, codec, source, label), source)
    _reject_binary(data, source)
    try:
        text, cut = _decode_to_end(data, "utf-8-sig")
        return Decoded(text, "UTF-8-BOM" if data.startswith(codecs.BOM_UTF8) else "UTF-8", cut)
    except UnicodeDecodeError as exc:
        utf8_error = exc
    chinese = _decode_chinese(data)
    if chinese is not None:
        return chinese
    return _decode_guess(data, source, utf8_error)


def _decode_to_end(data: bytes, codec: str) -> tuple[str, bool]:
    """The text, and whether the bytes ended inside a character (the part character is dropped); any other
    undecodable byte raises UnicodeDecodeError."""
    try:
        return data.decode(codec), False
    except UnicodeDecodeError as exc:
        lead = exc.reason == "truncated data" or 0x81 <= data[exc.start] <= 0xFE  # 0xFF starts no character
        if exc.reason not in _CUT_REASONS or exc.end < len(data) or exc.start < len(data) - CUT_CHARACTER_BYTES \
                or not lead:
            raise
        return data[:exc.start].decode(codec), True


def plausibility(text: str) -> float:
    """Share of the non-ASCII characters that are common Chinese characters (simplified or traditional)
    or CJK punctuation: near 1 for a right decoding, far lower for Big5 read as GBK or the reverse."""
    sample = [c for c in text[:SCORE_SAMPLE] if not c.isascii()]
    if not sample:
        return 1.0
    common = _common_chinese()
    return sum(c in common or _is_cjk_punctuation(c) for c in sample) / len(sample)


def _decode_chinese(data: bytes) -> Decoded | None:
    """The more plausible of the GBK/GB18030 and the Big5 decodings, or None when neither decodes."""
    gb = _first_decoding(data, _GB)
    big5 = _first_decoding(data, [(name, "Big5") for name in _BIG5])
    if gb is None or big5 is None:
        return gb or big5
    return big5 if plausibility(big5.text) > plausibility(gb.text) + BIG5_MARGIN else gb


def _first_decoding(data: bytes, names: Iterable[tuple[str, str]]) -> Decoded | None:
    for name, label in names:
        try:
            return _decoded(data, name, label)
        except UnicodeDecodeError:
            continue
    return None


def _decoded(data: bytes, codec: str, label: str) -> Decoded:
    text, cut = _decode_to_end(data, codec)
    return Decoded(text, label, cut)


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
    offset = data.find(b"\x00")  # the whole file: a NUL byte far down is still not text
    if offset >= 0:
        raise DataError(f"binary data (a NUL byte at offset {offset}), not text", source=source,
                        row=data[:offset].count(b"\n") + 1)


def _no_nul(decoded: Decoded, source: str | None) -> Decoded:
    """A decoding with a NUL character is binary data (or another encoding) behind a BOM, not text."""
    offset = decoded.text.find("\x00")
    if offset >= 0:
        raise DataError(f"binary data (a NUL character at character {offset} after decoding as "
                        f"{decoded.encoding}), not text", source=source, row=decoded.text[:offset].count("\n") + 1)
    return decoded


def _decode_strict(data: bytes, encoding: str, source: str | None, label: str | None = None) -> Decoded:
    try:
        return _decoded(data, encoding, label or encoding)
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}'", source=source) from None
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataError(f"not valid {encoding} text (byte {exc.start}: {exc.reason}); "
                        "try encoding: auto", source=source, row=line) from None


def _decode_guess(data: bytes, source: str | None, utf8_error: UnicodeDecodeError) -> Decoded:
    from charset_normalizer import from_bytes

    # UTF-16/32 without a BOM would have shown NUL bytes in a text table: such a guess is noise
    guesses = [m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
    best = min(guesses, key=lambda m: m.chaos, default=None)
    if best is None or best.chaos > 0.2 or not _looks_like_text(str(best)):
        raise _undetected(data, source, utf8_error)
    return Decoded(str(best), best.encoding)


def _undetected(data: bytes, source: str | None, utf8_error: UnicodeDecodeError) -> DataError:
    """Say where the file stops being UTF-8, or GB18030 when it reads as that further (a file damaged or of
    mixed encodings mostly reads as one of them)."""
    offset, reads_as, other = utf8_error.start, "UTF-8", "GBK, GB18030 or Big5"
    try:
        data.decode("gb18030")
    except UnicodeDecodeError as exc:
        if exc.start > offset:
            offset, reads_as, other = exc.start, "GB18030 (the file reads as GBK up to there)", "UTF-8 or Big5"
    return DataError(f"cannot detect the text encoding: byte {offset} (0x{data[offset]:02x}) is not valid {reads_as}, "
                     f"and the file is not {other} either; set the source's encoding", source=source,
                     row=data[:offset].count(b"\n") + 1)


def _looks_like_text(text: str) -> bool:
    """A single-byte code page decodes any bytes; real text still has ASCII separators, spaces and digits."""
    sample = text[:65536]
    ascii_share = sum(c.isascii() for c in sample) / max(1, len(sample))
    return ascii_share >= 0.2 and any(sep in sample for sep in ",;\t| \n")
