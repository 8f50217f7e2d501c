"""Find personal data inside text: one regex pass per pattern over many values joined, names and addresses from
jieba's part-of-speech tags added per value, then overlaps resolved."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mofang.data.pii.names import GIVEN_CHAR
from mofang.data.pii.patterns import PRIORITY, patterns_for
from mofang.data.pii.tagged import TAGGED_KINDS, tagged_spans

GIVEN_AFTER = re.compile(GIVEN_CHAR)
_SEPARATOR = "\x00"  # joins values; no pattern matches it, so no span crosses two values


@dataclass(frozen=True)
class Span:
    """One piece of personal data in a text: its kind and where it is (end exclusive)."""

    kind: str
    start: int
    end: int
    text: str


def find_spans(text: str, kinds: Iterable[str] | None = None, *, checksums: bool = True,
               tagger: bool = True) -> list[Span]:
    """The personal data in `text`, checksums verified, overlaps resolved, in reading order.

    With `checksums=False` an ID number or credit code of the right shape counts even when its check digit is
    wrong: for text a model generated, where a mistyped number is still someone's number or looks like one.
    With `tagger=False` names and addresses come from the patterns alone, not also from jieba's tags."""
    return find_spans_many([text], kinds, checksums=checksums, tagger=tagger)[0]


def find_spans_many(texts: Sequence[str | None], kinds: Iterable[str] | None = None, *,
                    checksums: bool = True, tagger: bool = True) -> list[list[Span]]:
    """`find_spans` for many values at once (None allowed): each pattern scans all of them in one pass."""
    values = ["" if t is None else t.replace(_SEPARATOR, " ") for t in texts]
    if not values:
        return []
    kinds = None if kinds is None else tuple(kinds)
    joined = _SEPARATOR.join(values)
    starts = np.cumsum([0] + [len(v) + 1 for v in values[:-1]])
    found: list[list[tuple[int, int, str]]] = [[] for _ in values]
    for pattern in patterns_for(kinds):
        hits = [(m.start("v"), m.end("v")) for m in pattern.compiled.finditer(joined)
                if pattern.check is None or (pattern.checksum and not checksums) or pattern.check(m.group("v"))]
        if not hits:
            continue
        rows = np.searchsorted(starts, [h[0] for h in hits], side="right") - 1
        for (start, end), row in zip(hits, rows.tolist(), strict=True):
            found[row].append((start - int(starts[row]), end - int(starts[row]), pattern.kind))
    tagged = TAGGED_KINDS if kinds is None else TAGGED_KINDS & frozenset(kinds)
    if tagger and tagged:
        found = _tag(values, found, tagged)
    return [_resolve(value, _recurring_names(value, candidates))
            for value, candidates in zip(values, found, strict=True)]


def _tag(values: list[str], found: list[list[tuple[int, int, str]]], kinds: frozenset[str]
         ) -> list[list[tuple[int, int, str]]]:
    """Each value's candidates with the names and addresses of jieba's tags, once per distinct value (a category
    column repeats a few values thousands of times)."""
    done: dict[tuple[str, tuple[tuple[int, int, str], ...]], list[tuple[int, int, str]]] = {}
    out = []
    for value, candidates in zip(values, found, strict=True):
        key = (value, tuple(candidates))
        if key not in done:
            done[key] = tagged_spans(value, kinds, candidates)
        out.append(list(done[key]))
    return out


def _recurring_names(text: str, candidates: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Add every other mention of a name found once in the same text ("张明远医生 ... 张明远的信用评分")."""
    found = {text[start:end] for start, end, kind in candidates if kind == "person_name"}
    if not found:
        return candidates
    more = list(candidates)
    for name in found:
        start = text.find(name)
        while start >= 0:
            end = start + len(name)
            if not GIVEN_AFTER.match(text, end):  # "张明" does not recur inside "张明远"
                more.append((start, end, "person_name"))
            start = text.find(name, end)
    return more


def _resolve(text: str, candidates: list[tuple[int, int, str]]) -> list[Span]:
    """Keep the longest (then highest-priority) spans that do not overlap a kept one."""
    if not candidates:
        return []
    kept: list[tuple[int, int, str]] = []
    for start, end, kind in sorted(set(candidates), key=lambda c: (c[0] - c[1], -PRIORITY[c[2]], c[0])):
        if all(end <= s or start >= e for s, e, _ in kept):
            kept.append((start, end, kind))
    return [Span(kind, start, end, text[start:end]) for start, end, kind in sorted(kept)]
