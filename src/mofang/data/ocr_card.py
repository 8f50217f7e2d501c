"""What OCR read from one documents source, for the read info and the data card: pages and their confidence,
pages under the confidence threshold, images that could not be read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mofang.data.ocr import LOW_CONFIDENCE, engine_name

PAGES_LISTED = 500  # pages listed with their confidence in one source's card entry (all are counted)
LISTED = 100  # low-confidence pages and unreadable images listed by name (all are counted)
NAMED_IN_WARNING = 5


@dataclass
class OcrTally:
    """Pages read by OCR and unreadable images of one source, in reading order."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[dict[str, str]] = field(default_factory=list)
    documents: int = 0

    @property
    def pages(self) -> int:
        return len(self.entries)

    @property
    def unreadable_count(self) -> int:
        return len(self.unreadable)

    def add(self, name: str, document: Any) -> None:
        """Record a document's OCR'd pages (a `doctext.Document`) and the pages of it that could not be read."""
        if document.ocr:
            self.documents += 1
        for number, page in document.ocr:
            self.entries.append({"document": name, "page": number, "lines": page.lines,
                                 "confidence": page.confidence})
        for problem in document.unreadable:
            self.unreadable.append({"document": name, "reason": problem})

    def unreadable_file(self, name: str, reason: str) -> None:
        """An image that could not be read at all: skipped."""
        self.unreadable.append({"document": name, "reason": reason})

    def low(self) -> list[dict[str, Any]]:
        """Pages under the confidence threshold, or where no text was found."""
        return [e for e in self.entries if e["confidence"] is None or e["confidence"] < LOW_CONFIDENCE]

    def unreadable_names(self) -> str:
        return ", ".join(u["document"] for u in self.unreadable[:NAMED_IN_WARNING]) + (
            ", …" if len(self.unreadable) > NAMED_IN_WARNING else "")

    def summary(self) -> dict[str, Any]:
        """The JSON-ready OCR entry of the read info (and of the data card)."""
        scored = [e["confidence"] for e in self.entries if e["confidence"] is not None]
        low = self.low()
        return {"engine": engine_name(), "threshold": LOW_CONFIDENCE, "documents": self.documents,
                "pages_read": self.pages, "pages_without_text": sum(e["confidence"] is None for e in self.entries),
                "mean_confidence": round(sum(scored) / len(scored), 4) if scored else None,
                "min_confidence": min(scored) if scored else None,
                "low_confidence_count": len(low), "low_confidence": low[:LISTED],
                "unreadable_count": len(self.unreadable), "unreadable": self.unreadable[:LISTED],
                "pages": self.entries[:PAGES_LISTED]}

    def warnings(self) -> list[str]:
        """Low-confidence pages and unreadable images, as source warnings (data card, ingest reasons)."""
        out = []
        low = self.low()
        if low:
            named = ", ".join(f"{e['document']} p.{e['page']} ("
                              + ("no text" if e["confidence"] is None else f"{e['confidence']:.2f}") + ")"
                              for e in low[:NAMED_IN_WARNING])
            more = ", …" if len(low) > NAMED_IN_WARNING else ""
            out.append(f"OCR: {len(low):,} of {self.pages:,} pages read with confidence under {LOW_CONFIDENCE} "
                       f"or no text found: {named}{more}; check them")
        for item in self.unreadable[:LISTED]:
            out.append(f"{item['document']}: {item['reason']}; skipped")
        if len(self.unreadable) > LISTED:
            out.append(f"{len(self.unreadable) - LISTED:,} more unreadable images skipped")
        return out


def ocr_section(sources: list[dict]) -> list[dict[str, Any]]:
    """The data card's OCR entries: one per source read with OCR."""
    return [{"source": s.get("label", ""), **s["ocr"]} for s in sources if s.get("ocr")]
