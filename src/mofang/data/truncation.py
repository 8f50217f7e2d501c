"""A delimited file cut off mid-row: its last record short of fields with no line break after it, or a quote
left open at the end of the file. Such a row is flagged (and dropped), or the source refused under `strict`."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

EOF_IN_QUOTE = "EOF inside string"  # the pandas C parser's words for a quote still open at the end


@dataclass(frozen=True)
class CutRow:
    """The last record of a file that looks cut off: where it starts and why it looks so."""

    line: int  # the physical line the record starts on
    lines: int  # the physical lines it spans (a quoted cell may hold line breaks)
    why: str

    def describe(self) -> str:
        where = f"line {self.line:,}" if self.lines == 1 else f"lines {self.line:,}-{self.line + self.lines - 1:,}"
        return f"the last row ({where}) is cut off: {self.why}; the file looks truncated"


def last_record(text: str) -> tuple[str, int]:
    """The last record of CSV text (line breaks inside quotes kept in it) and the line it starts on.

    A record starts after a line break with an even number of quotes before it; the quotes are counted from the
    end, so only the last record is scanned (the whole text must hold an even number of quotes)."""
    body = text.rstrip("\r\n")
    start = body.rfind("\n")
    quotes = body.count('"', start + 1)
    while start >= 0 and quotes % 2:  # inside a quoted cell: the record starts further up
        previous = body.rfind("\n", 0, start)
        quotes += body.count('"', previous + 1, start)
        start = previous
    return body[start + 1:], body.count("\n", 0, start + 1) + 1


def cut_last_row(text: str, separator: str, expected: int, *, open_quote: bool = False,
                 cut_character: bool = False) -> CutRow | None:
    """The last record when it looks cut off: a quote left open (`open_quote`, with the closing quote since
    appended to `text`), the file's bytes ending inside a character (`cut_character`), or fewer than `expected`
    fields with no line break after it. None when it looks whole."""
    if not (open_quote or cut_character) and text.endswith(("\n", "\r")):
        return None
    record, line = last_record(text)
    if line == 1:  # the header itself
        return None
    fields = len(next(csv.reader(io.StringIO(record, newline=""), delimiter=separator), []))
    if open_quote:
        why = "a quoted cell is still open at the end of the file"
    elif cut_character:
        why = "the file ends in the middle of a character"
    elif fields < expected:
        why = f"it has {fields} of {expected} fields and no line break ends the file"
    else:
        return None
    return CutRow(line=line, lines=record.count("\n") + 1, why=why)
