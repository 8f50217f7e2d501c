"""Guardrails of a served chat product: personal data masked in what the model reads and in what it says,
streamed replies included (the data workshop's detector: `mofang.data.pii`)."""

from __future__ import annotations

from mofang.data.pii.policy import mask
from mofang.data.pii.spans import Span, find_spans

HOLD = 24  # characters held back from a stream: the longest span that could still be growing (an 18-digit ID fits)
CONTEXT = 64  # characters already sent that are scanned again (context words before a span: 身份证号, QQ, ...)
MAX_PENDING = 2048  # with no boundary in sight, text is sent anyway once this much waits
BOUNDARIES = frozenset(" \t\r\n，。！？；：、）》」』”’,!?;")


def mask_pii(text: str, *, generated: bool = False) -> tuple[str, list[str]]:
    """`text` with each piece of personal data masked (138****5678, 110***********002X, 张*) and the kinds
    found, in order of first appearance.

    `generated`: the text is a model's reply, where masking errs wide — an ID number or credit code of the right
    shape is masked even when its check digit is wrong (a model garbles digits; a user rarely does)."""
    spans = find_spans(text, checksums=not generated)
    return _masked(text, spans, 0, len(text)), list(dict.fromkeys(s.kind for s in spans))


def _masked(text: str, spans: list[Span], begin: int, end: int, offset: int = 0) -> str:
    """text[begin:end] with the spans inside it masked (span offsets are relative to `offset`)."""
    pieces, cursor = [], begin
    for span in spans:
        start, stop = span.start + offset, span.end + offset
        if stop <= begin or start >= end:
            continue
        if start < begin:  # began in text already sent: star the rest rather than show it
            pieces.append("*" * (stop - begin))
            cursor = stop
            continue
        pieces += [text[cursor:start], mask(span.kind, span.text)]
        cursor = stop
    pieces.append(text[cursor:end])
    return "".join(pieces)


class StreamMasker:
    """Masks a reply as it streams: `feed(piece)` gives the text safe to send now, `flush()` the rest at the end.

    Text is sent up to a boundary (whitespace or punctuation) at least HOLD characters before the end and outside
    every span found so far, so a number or name still arriving is never sent half unmasked; the output joined
    equals `mask_pii(reply, generated=True)` of the whole reply."""

    def __init__(self, hold: int = HOLD) -> None:
        self.hold = hold
        self.text = ""
        self.sent = 0  # characters of `text` already masked and sent
        self.kinds: list[str] = []

    def feed(self, piece: str) -> str:
        self.text += piece
        limit = len(self.text) - self.hold
        if limit <= self.sent:
            return ""
        origin, spans = self._spans()
        inside = [(s.start + origin, s.end + origin) for s in spans]
        cut = next((i for i in range(limit, self.sent, -1)
                    if self.text[i - 1] in BOUNDARIES and not any(a < i < b for a, b in inside)), None)
        if cut is None and len(self.text) - self.sent > MAX_PENDING and not any(a < limit < b for a, b in inside):
            cut = limit
        return self._send(cut, origin, spans) if cut else ""

    def flush(self) -> str:
        """Everything not sent yet, masked."""
        if self.sent >= len(self.text):
            return ""
        origin, spans = self._spans()
        return self._send(len(self.text), origin, spans)

    def _spans(self) -> tuple[int, list[Span]]:
        origin = max(0, self.sent - CONTEXT)
        return origin, find_spans(self.text[origin:], checksums=False)

    def _send(self, cut: int, origin: int, spans: list[Span]) -> str:
        out = _masked(self.text, spans, self.sent, cut, origin)
        for span in spans:
            if span.end + origin > self.sent and span.start + origin < cut and span.kind not in self.kinds:
                self.kinds.append(span.kind)
        self.sent = cut
        return out
