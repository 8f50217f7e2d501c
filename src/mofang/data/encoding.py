"""Text encoding detection: UTF-8 (with or without BOM), GBK/GB18030, then charset-normalizer."""

from __future__ import annotations

import codecs

from mofang.errors import DataError

_MAGIC = {b"PK\x03\x04": "a zip/xlsx file", b"PAR1": "a parquet file", b"%PDF": "a PDF file",
          b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image",
          b"SQLite format 3": "an SQLite database"}


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
    except UnicodeDecodeError:
        pass
    for name, label in (("gbk", "GBK"), ("gb18030", "GB18030")):
        try:
            return data.decode(name), label
        except UnicodeDecodeError:
            continue
    return _decode_guess(data, source)


def _reject_binary(data: bytes, source: str | None) -> None:
    head = data[:16]
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise DataError(f"this is {what}, not a text table; set the source's format or fix the file",
                            source=source)
    if b"\x00" in data[:65536]:
        raise DataError("binary data (NUL bytes), not a text table", source=source)


def _decode_strict(data: bytes, encoding: str, source: str | None) -> str:
    try:
        return data.decode(encoding)
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}'", source=source) from None
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DataError(f"not valid {encoding} text (byte {exc.start}: {exc.reason}); "
                        "try encoding: auto", source=source, row=line) from None


def _decode_guess(data: bytes, source: str | None) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    # UTF-16/32 without a BOM would have shown NUL bytes in a text table: such a guess is noise
    guesses = [m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
    best = min(guesses, key=lambda m: m.chaos, default=None)
    if best is None or best.chaos > 0.2 or not _looks_like_table(str(best)):
        raise DataError("cannot detect the text encoding (not UTF-8, GBK or GB18030); "
                        "set the source's encoding", source=source)
    return str(best), best.encoding


def _looks_like_table(text: str) -> bool:
    """A single-byte code page decodes any bytes; a real table still has ASCII separators and digits."""
    sample = text[:65536]
    ascii_share = sum(c.isascii() for c in sample) / max(1, len(sample))
    return ascii_share >= 0.2 and any(sep in sample for sep in ",;\t|\n")
