"""The knowledge base: passages to index, the answer each returns and its source (row, file, offset)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mofang.core.errors import DataError

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class QAColumns:
    """Which columns of a question–answer frame do what.

    `questions` are indexed with the answer (the order's text columns); `query` is the column a held-out
    row is asked with (default: the first question column) and is left out of that row's passage, so
    evaluation never finds the query's own words; `sources` are returned with each answer (e.g. department).
    """

    questions: tuple[str, ...]
    answer: str
    query: str | None = None
    id_column: str | None = None
    sources: tuple[str, ...] = ()
    index_answer: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.questions, str):
            object.__setattr__(self, "questions", (self.questions,))
        object.__setattr__(self, "questions", tuple(self.questions))
        object.__setattr__(self, "sources", tuple([self.sources] if isinstance(self.sources, str) else self.sources))
        if not self.questions and self.query is None:
            raise ValueError("QAColumns needs at least one question column")

    @classmethod
    def for_order(cls, text: str | Sequence[str], target: str, id_column: str | None = None,
                  sources: Sequence[str] = ()) -> QAColumns:
        """The roles an order's `text` columns take: the first is how users ask (the query); with more than
        one, only the others are indexed with the answer, so train and held-out passages look alike and
        evaluation is fair; with one, it is indexed for train rows and held out for valid/test rows."""
        names = [text] if isinstance(text, str) else list(text)
        if not names:
            raise ValueError("a retrieval-qa order needs at least one text column (the question)")
        return cls(questions=tuple(names[1:] or names), answer=target, query=names[0], id_column=id_column,
                   sources=tuple(c for c in sources if c not in (*names, target, id_column)))

    @property
    def query_column(self) -> str:
        return self.query or self.questions[0]

    def required(self) -> list[str]:
        names = [*self.questions, self.answer, self.query_column, *self.sources]
        if self.id_column:
            names.append(self.id_column)
        return list(dict.fromkeys(names))


@dataclass
class KnowledgeBase:
    """Parallel lists, one item per passage: what is indexed, the answer returned, where it comes from."""

    texts: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)
    kind: str = "pairs"  # or "documents"

    def __len__(self) -> int:
        return len(self.texts)

    def answer_groups(self) -> dict[str, list[int]]:
        """Passage positions by normalised answer text (duplicate answers count as the same answer)."""
        groups: dict[str, list[int]] = {}
        for position, answer in enumerate(self.answers):
            groups.setdefault(normalize_answer(answer), []).append(position)
        return groups

    def gold_for(self, answers: Iterable[Any]) -> list[set[int]]:
        """For each answer text, the passages that return it (empty when the base does not hold it)."""
        groups = self.answer_groups()
        return [set(groups.get(normalize_answer(a), ())) for a in answers]

    @classmethod
    def from_pairs(cls, frame: pd.DataFrame, columns: QAColumns,
                   held_out: Sequence[pd.DataFrame] = ()) -> KnowledgeBase:
        """One passage per row with an answer: its question columns and answer. Rows of `held_out` frames
        (validation/test) are added without their query column (see `QAColumns`)."""
        kb = cls(kind="pairs")
        for part, data in [("train", frame), *[("held_out", f) for f in held_out]]:
            missing = [c for c in columns.required() if c not in data.columns]
            if missing:
                raise DataError(f"question–answer data lacks column(s) {', '.join(missing)} "
                                f"(has: {', '.join(map(str, data.columns))})")
            indexed = list(columns.questions)
            if part == "held_out":
                indexed = [c for c in indexed if c != columns.query_column]
            kb._add_rows(data, columns, indexed, part)
        if not len(kb):
            raise DataError(f"no row has an answer in column '{columns.answer}'", column=columns.answer)
        return kb

    def _add_rows(self, data: pd.DataFrame, columns: QAColumns, indexed: list[str], part: str) -> None:
        answers = data[columns.answer].map(_text)
        fields = [data[c].map(_text) for c in indexed]
        if columns.index_answer:
            fields.append(answers)
        ids = data[columns.id_column].map(_text) if columns.id_column else pd.Series(data.index, index=data.index)
        extra = {c: data[c].map(_text) for c in columns.sources}
        for position in range(len(data)):
            answer = answers.iloc[position]
            if not answer:
                continue
            text = " ".join(t for t in (f.iloc[position] for f in fields) if t)
            source: dict[str, Any] = {"row": _plain(ids.iloc[position])}
            source.update({c: values.iloc[position] for c, values in extra.items()})
            if part != "train":
                source["held_out"] = True
            self.texts.append(text)
            self.answers.append(answer)
            self.sources.append(source)

    @classmethod
    def from_documents(cls, frame: pd.DataFrame, chunk_chars: int = 300, overlap_chars: int = 60) -> KnowledgeBase:
        """Passages of about `chunk_chars` characters cut at sentence ends from a documents frame (the data
        workshop's `path, title, text[, label]` records), each with its file and character offset."""
        missing = [c for c in ("path", "text") if c not in frame.columns]
        if missing:
            raise DataError(f"documents lack column(s) {', '.join(missing)} (expected path, title, text)")
        kb = cls(kind="documents")
        for _, row in frame.iterrows():
            text, title = _text(row["text"]), _text(row.get("title"))
            for offset, passage in chunk_text(text, chunk_chars, overlap_chars):
                source: dict[str, Any] = {"file": _text(row["path"]), "offset": offset}
                if title:
                    source["title"] = title
                if "label" in frame.columns and _text(row.get("label")):
                    source["label"] = _text(row["label"])
                kb.texts.append(f"{title} {passage}".strip() if title else passage)
                kb.answers.append(passage)
                kb.sources.append(source)
        if not len(kb):
            raise DataError("the documents hold no text to index")
        return kb


def chunk_text(text: str, chunk_chars: int = 300, overlap_chars: int = 60) -> list[tuple[int, str]]:
    """(offset, passage) pieces of `text`: whole sentences packed up to `chunk_chars` characters, the next
    piece starting with the last sentences of up to `overlap_chars` characters; an over-long sentence is cut."""
    if chunk_chars < 20 or not 0 <= overlap_chars < chunk_chars:
        raise ValueError(f"chunk_chars must be >= 20 and 0 <= overlap_chars < chunk_chars "
                         f"(got {chunk_chars}, {overlap_chars})")
    spans = []  # (start, end) of sentences, long ones cut to chunk_chars
    start = 0
    for match in [*_SENTENCE_END.finditer(text), None]:
        end = match.end() if match else len(text)
        while end - start > chunk_chars:
            spans.append((start, start + chunk_chars))
            start += chunk_chars
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    pieces: list[tuple[int, str]] = []
    i = 0
    while i < len(spans):
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] - spans[i][0] <= chunk_chars:
            j += 1
        begin = spans[i][0]
        passage = text[begin:spans[j][1]]
        lead = len(passage) - len(passage.lstrip())
        pieces.append((begin + lead, passage.strip()))
        if j + 1 >= len(spans):
            break
        # the next piece starts with the longest tail of this one that fits in the overlap and still
        # leaves room for the next sentence; otherwise right after this piece
        following = j + 1
        for k in range(i + 1, j + 1):
            if spans[j][1] - spans[k][0] <= overlap_chars and spans[j + 1][1] - spans[k][0] <= chunk_chars:
                following = k
                break
        i = following
    return pieces


def normalize_answer(value: Any) -> str:
    return " ".join(_text(value).split())


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
