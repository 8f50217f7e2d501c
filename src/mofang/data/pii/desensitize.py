"""Desensitize values and free text under a policy, counting what was found and keeping only masked examples."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mofang.data.pii.policy import Policy, apply, mask
from mofang.data.pii.spans import find_spans_many

EXAMPLES = 3  # masked examples kept per column and kind
CHUNK = 20_000  # values joined into one regex pass; bounds the joined string's size


@dataclass
class KindReport:
    """What one column held of one kind and what was done: never raw values, only masked examples."""

    action: str
    found: int = 0
    examples: list[str] = field(default_factory=list)

    def record(self, kind: str, value: str) -> None:
        self.found += 1
        if len(self.examples) < EXAMPLES:
            masked = mask(kind, value)
            if masked not in self.examples:
                self.examples.append(masked)

    def as_dict(self) -> dict[str, Any]:
        return {"found": self.found, "action": self.action, "examples": self.examples}


def desensitize_values(values: list[str | None], kind: str, action: str, key: bytes | None
                       ) -> tuple[list[str | None], KindReport]:
    """Every non-missing value of a column that is wholly `kind`, replaced under `action` (once per distinct value)."""
    report = KindReport(action)
    replaced: dict[str, str] = {}
    out: list[str | None] = []
    for value in values:
        if value is None or not value.strip():
            out.append(value)
            continue
        if value not in replaced:
            replaced[value] = apply(kind, action, value, key)
        report.record(kind, value)
        out.append(replaced[value])
    return out, report


def desensitize_texts(texts: list[str | None], policy: Policy, key: bytes | None, kinds: Iterable[str] | None = None
                      ) -> tuple[list[str | None], int, dict[str, KindReport]]:
    """Free texts with each span replaced under the policy's text action; also the cells changed and a report."""
    reports: dict[str, KindReport] = defaultdict(lambda: KindReport(""))
    out = list(texts)
    changed = 0
    for begin in range(0, len(texts), CHUNK):
        chunk = texts[begin:begin + CHUNK]
        for offset, spans in enumerate(find_spans_many(chunk, kinds)):
            spans = [s for s in spans if policy.action(s.kind, in_text=True) != "keep"]
            if not spans:
                continue
            text = chunk[offset]
            assert text is not None
            pieces, cursor = [], 0
            for span in spans:
                action = policy.action(span.kind, in_text=True)
                reports[span.kind].action = action
                reports[span.kind].record(span.kind, span.text)
                pieces += [text[cursor:span.start], apply(span.kind, action, span.text, key)]
                cursor = span.end
            out[begin + offset] = "".join(pieces) + text[cursor:]
            changed += 1
    return out, changed, dict(reports)
