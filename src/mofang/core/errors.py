"""The errors Mofang raises for bad input: each says what is wrong and where."""

from __future__ import annotations


class MofangError(Exception):
    """Base class for errors meant for the person who placed the order."""


class OrderError(MofangError):
    """An order file that cannot be accepted (syntax, unknown key, bad value)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.file, self.line, self.field, self.reason = file, line, field, message
        where = ":".join(str(p) for p in (file, line) if p is not None)
        prefix = f"{where}: " if where else ""
        at = f"field '{field}': " if field else ""
        super().__init__(f"{prefix}{at}{message}")


class DataError(MofangError):
    """A data source that cannot be read or does not fit the order."""

    def __init__(self, message: str, *, source: str | None = None, row: int | None = None,
                 column: str | None = None) -> None:
        self.source, self.row, self.column, self.reason = source, row, column, message
        parts = []
        if source:
            parts.append(str(source))
        if row is not None:
            parts.append(f"row {row}")
        if column:
            parts.append(f"column '{column}'")
        prefix = ", ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class NotFoundError(MofangError):
    """A job, order, product or version that does not exist."""
