"""Checksums of Chinese identifiers: resident ID (GB 11643), credit code (GB 32100) and bank cards (Luhn)."""

from __future__ import annotations

import re

ID_CARD = r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
ID_CARD_15 = r"[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_CARD_RE = re.compile(ID_CARD)
_ID_CARD_15_RE = re.compile(ID_CARD_15)

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: no I, O, S, V, Z
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {c: i for i, c in enumerate(USCC_CHARS)}
USCC = r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}"
_USCC_RE = re.compile(USCC)


def valid_id_card(number: str) -> bool:
    """GB 11643-1999 checksum of an 18-character resident ID number."""
    if not _ID_CARD_RE.fullmatch(number):
        return False
    total = sum(int(c) * w for c, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def valid_id_card_15(number: str) -> bool:
    """The shape of a first-generation 15-digit ID number (no checksum exists; the birth date must be real)."""
    return bool(_ID_CARD_15_RE.fullmatch(number))


def luhn_valid(number: str) -> bool:
    """The Luhn checksum used by bank card numbers."""
    digits = [int(c) for c in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def valid_uscc(code: str) -> bool:
    """GB 32100-2015 checksum of an 18-character unified social credit code."""
    code = code.upper()
    if not _USCC_RE.fullmatch(code):
        return False
    total = sum(_USCC_VALUE[c] * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31] == code[17]
