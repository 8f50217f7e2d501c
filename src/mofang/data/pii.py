"""Find columns holding personal data: Chinese ID cards, mobiles, emails, bank cards, person names."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mofang.data.missing import to_text

SHARE = 0.5  # a column is PII when at least this share of its non-missing values match
SAMPLE = 5000
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = "10X98765432"
_ID_CARD = r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
_MOBILE = r"(?:\+?86[- ]?)?1[3-9]\d{9}"
_EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"
_BANK_CARD = r"\d{13,19}"
_NAME_HEADER = re.compile(
    r"(姓名|名字|联系人|持卡人|户名|^name$|^(customer|client|full|first|last|given|family|person|contact|"
    r"user|account|holder|patient|employee)[\s_.-]?name$|^surname$)", re.IGNORECASE)

LABELS = {"id_card": "Chinese ID card numbers", "mobile": "Chinese mobile numbers",
          "email": "email addresses", "bank_card": "bank card numbers", "person_name": "person names"}


@dataclass(frozen=True)
class PiiFinding:
    """One column found to hold personal data, with the share of values that matched."""

    column: str
    kind: str
    share: float

    @property
    def description(self) -> str:
        if self.kind == "person_name":
            return f"PII ({LABELS[self.kind]}, by its header)"
        return f"PII ({LABELS[self.kind]}, {self.share:.0%} of values)"


def valid_id_card(number: str) -> bool:
    """GB 11643-1999 checksum of an 18-character resident ID number."""
    if not re.fullmatch(_ID_CARD, number):
        return False
    digits = np.array([int(c) for c in number[:17]])
    return _ID_CHECK[int(digits @ _ID_WEIGHTS) % 11] == number[17].upper()


def luhn_valid(number: str) -> bool:
    """The Luhn checksum used by bank card numbers."""
    digits = [int(c) for c in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def find_pii(column: str, values: pd.Series) -> PiiFinding | None:
    """The personal-data kind of a column of raw values, or None."""
    if _NAME_HEADER.search(column.strip()):
        return PiiFinding(column, "person_name", 1.0)
    present = values.dropna()
    if present.empty:
        return None
    text = pd.Series(pd.unique(present.astype(object)), dtype=object).map(to_text).str.strip()
    if len(text) > SAMPLE:
        text = text.sample(SAMPLE, random_state=0)
    compact = text.str.replace(r"[\s-]", "", regex=True)
    checks = (
        ("id_card", lambda: compact[compact.str.fullmatch(_ID_CARD)].map(valid_id_card)),
        ("mobile", lambda: compact.str.fullmatch(_MOBILE)),
        ("email", lambda: text.str.fullmatch(_EMAIL)),
        ("bank_card", lambda: compact[compact.str.fullmatch(_BANK_CARD)].map(luhn_valid)),
    )
    for kind, matches in checks:
        share = float(matches().sum()) / len(text)
        if share >= SHARE:
            return PiiFinding(column, kind, share)
    return None
