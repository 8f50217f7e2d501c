"""Find columns whose values are mostly one kind of personal data (or whose header says so)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from mofang.data.missing import to_text
from mofang.data.pii.names import NAME_HEADER
from mofang.data.pii.patterns import KINDS, LABELS
from mofang.data.pii.spans import find_spans_many
from mofang.data.pii.tagged import looks_like_name

SHARE = 0.5  # a column is PII when at least this share of its non-missing values match
SAMPLE = 5000
# names are judged by shape, and a column of foreign or nick names holds only some Chinese-shaped ones (news names:
# 36-64% of 50 distinct values), while columns of other short words (places, firms, titles, games, districts)
# stay under 20%: 40% sits between them
NAME_SHARE = 0.4
NAME_SAMPLE = 1000  # distinct values a column of names is judged on
NAME_MIN_DISTINCT = 3  # fewer distinct values is a category (是/否, 男/女), whatever they look like
_HEADERS = {  # kinds found by the header alone; their values carry no reliable shape of their own
    "person_name": re.compile(NAME_HEADER, re.IGNORECASE),
    "qq": re.compile(r"^(qq|qq号|qq号码|扣扣|qq_?(no|id|number))$", re.IGNORECASE),
    "wechat": re.compile(r"(微信|^(wechat|weixin|wx|vx)[\s_.-]?(id|号|no)?$)", re.IGNORECASE),
}
_ID_LIKE = {"qq": re.compile(r"[1-9][0-9]{4,10}"),
            "wechat": re.compile(r"[A-Za-z][-_A-Za-z0-9]{5,19}|[1-9][0-9]{4,11}")}


@dataclass(frozen=True)
class PiiFinding:
    """One column found to hold personal data, with the share of values that matched."""

    column: str
    kind: str
    share: float
    by_header: bool = False

    @property
    def description(self) -> str:
        if self.by_header:
            return f"PII ({LABELS[self.kind]}, by its header)"
        return f"PII ({LABELS[self.kind]}, {self.share:.0%} of values)"


def column_sample(values: pd.Series) -> pd.Series:
    """Distinct non-missing values as stripped text, at most SAMPLE of them (seeded)."""
    present = values.dropna()
    text = pd.Series(pd.unique(present.astype(object)), dtype=object).map(to_text).str.strip()
    return text.sample(SAMPLE, random_state=0) if len(text) > SAMPLE else text


def value_kinds(values: list[str]) -> list[str | None]:
    """The kind each value wholly is (one span of the patterns covering it), else None. jieba's tags are left out:
    they would make a column of bare place names a column of addresses."""
    return [spans[0].kind if len(spans) == 1 and spans[0].start == 0 and spans[0].end == len(value) else None
            for value, spans in zip(values, find_spans_many(values, tagger=False), strict=True)]


def name_share(text: pd.Series) -> float:
    """The share of a column's distinct values that are wholly a Chinese person name (0 for too few values)."""
    distinct = text[text != ""].head(NAME_SAMPLE)
    if len(distinct) < NAME_MIN_DISTINCT:
        return 0.0
    return float(distinct.map(looks_like_name).mean())


def find_pii(column: str, values: pd.Series) -> PiiFinding | None:
    """The personal-data kind of a column of raw values, or None."""
    header = column.strip()
    if _HEADERS["person_name"].search(header):
        return PiiFinding(column, "person_name", 1.0, by_header=True)
    text = column_sample(values)
    if text.empty:
        return None
    for kind in ("qq", "wechat"):
        if _HEADERS[kind].search(header):
            share = float(text.map(lambda v, k=kind: bool(_ID_LIKE[k].fullmatch(v))).mean())
            if share >= SHARE:
                return PiiFinding(column, kind, share)
    counts = pd.Series(value_kinds(text.tolist()), dtype=object).value_counts()
    if not counts.empty and counts.iloc[0] / len(text) >= SHARE and str(counts.index[0]) in KINDS:
        return PiiFinding(column, str(counts.index[0]), int(counts.iloc[0]) / len(text))
    share = name_share(text)
    return PiiFinding(column, "person_name", share) if share >= NAME_SHARE else None
