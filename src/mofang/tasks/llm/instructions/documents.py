"""Instruction pairs from documents: passages split on blank lines and headings, one templated pair each."""

from __future__ import annotations

import re
import string
from pathlib import PurePosixPath

import pandas as pd

from mofang.core.errors import MofangError
from mofang.tasks.llm.instructions.frame import canonical_frame

DEFAULT_TEMPLATE = "请根据《{title}》介绍：{lead}"
TEMPLATE_FIELDS = ("title", "lead", "passage")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+\S|^\s*第[一二三四五六七八九十百千零〇\d]+[章节篇部]")
_BLANK = re.compile(r"\n\s*\n")
# after 。！？!? (with any closing quotes or brackets), after a '.' that ends an English sentence, or at a newline
_CLOSE = "”’」』）)\"'"
_SENTENCE_END = re.compile(rf"(?<=[。！？!?])(?![。！？!?{_CLOSE}])|(?<=[。！？!?][{_CLOSE}])|(?<=\.)(?=\s)|(?<=\n)")
_DOCUMENT_COLUMNS = ("path", "title", "text", "format")


def pairs_from_documents(frame: pd.DataFrame, *, template: str | None = None, max_chars: int = 800,
                         ) -> pd.DataFrame:
    """Canonical rows from a documents frame (path, title, text, ... as read by mofang.data.documents).

    Each document is cut into passages of at most `max_chars` (see `passages`). By default the prompt is
    DEFAULT_TEMPLATE, "请根据《{title}》介绍：{lead}" where lead is the passage's first sentence (or heading line),
    and the response is the rest of the passage; passages with nothing after the lead are skipped. `template`
    overrides the prompt with the fields title, lead and passage; a template without {lead} answers with the
    whole passage. Columns: system, history, prompt, response, source (the document's path), passage, then
    the document's other columns (e.g. label).
    """
    template = DEFAULT_TEMPLATE if template is None else template
    uses_lead = "lead" in _fields(template)
    rows, extra = [], []
    rest_columns = [c for c in frame.columns if c not in _DOCUMENT_COLUMNS]
    for record in frame.to_dict("records"):
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            continue
        path = str(record.get("path") or "")
        title = str(record.get("title") or PurePosixPath(path).stem or "文档").strip()
        for passage in passages(text, max_chars):
            lead, rest = _lead(passage)
            response = rest if uses_lead else passage
            if not response:
                continue
            prompt = template.format(title=title, lead=lead, passage=passage).strip()
            rows.append({"prompt": prompt, "response": response})
            extra.append({"source": path, "passage": passage, **{c: record.get(c) for c in rest_columns}})
    return canonical_frame(rows, pd.DataFrame(extra, columns=["source", "passage", *rest_columns], dtype=object))


def passages(text: str, max_chars: int = 800) -> list[str]:
    """`text` cut into passages of at most `max_chars`: sections start at headings (markdown '#' or
    第…章/节/篇/部), paragraphs (split on blank lines) are packed together within a section, and a paragraph
    longer than `max_chars` is cut at sentence ends (。！？!? or '. ', a longer sentence at max_chars)."""
    if max_chars < 1:
        raise MofangError(f"max_chars must be a positive number of characters, got {max_chars}")
    out: list[str] = []
    for section in _sections(text):
        pieces = [p for paragraph in _BLANK.split(section) for p in _fit(paragraph.strip(), max_chars) if p]
        out += _pack(pieces, max_chars, "\n")
    return out


def sentences(text: str) -> list[str]:
    """Sentences of Chinese or English text (a line break also ends one), stripped, empties dropped."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _sections(text: str) -> list[str]:
    sections: list[list[str]] = [[]]
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if _HEADING.match(line) and any(s.strip() for s in sections[-1]):
            sections.append([])
        sections[-1].append(line.lstrip("#").strip() if line.lstrip().startswith("#") else line)
    return ["\n".join(lines).strip() for lines in sections if any(s.strip() for s in lines)]


def _fit(paragraph: str, max_chars: int) -> list[str]:
    """A paragraph as pieces of at most max_chars: whole, or packed sentences, or cut sentences."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    raw = [s for s in _SENTENCE_END.split(paragraph) if s]  # joined they give the paragraph back
    cut = [s[i:i + max_chars] for s in raw for i in range(0, len(s), max_chars)]
    return [p.strip() for p in _pack(cut, max_chars, "")]


def _pack(pieces: list[str], max_chars: int, joiner: str) -> list[str]:
    packed: list[str] = []
    for piece in pieces:
        if packed and len(packed[-1]) + len(joiner) + len(piece) <= max_chars:
            packed[-1] += joiner + piece
        else:
            packed.append(piece)
    return packed


def _lead(passage: str) -> tuple[str, str]:
    """The first sentence of a passage and the rest of it."""
    parts = sentences(passage)
    if not parts:
        return "", ""
    lead = parts[0]
    rest = passage.strip()[passage.strip().find(lead) + len(lead):].strip()
    return lead, rest


def _fields(template: str) -> set[str]:
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        raise MofangError(f"the document prompt template is not a valid format string ({exc}): {template!r}") from None
    unknown = sorted(n for n in names if n not in TEMPLATE_FIELDS)
    if unknown:
        raise MofangError(f"the document prompt template names {', '.join(unknown)}; it may use "
                          + ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS) + f": {template!r}")
    return names
