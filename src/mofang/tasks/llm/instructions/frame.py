"""The canonical instruction frame: system, history, prompt, response (strings, never missing), then the rest."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from mofang.data.ops.base import ROW, SAMPLE

CANONICAL = ("system", "history", "prompt", "response")


def canonical_frame(rows: Sequence[dict[str, Any]], extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """A frame of the canonical columns from `rows` (dicts), followed by the columns of `extra` (same length)."""
    data = {name: [_text(row.get(name)) for row in rows] for name in CANONICAL}
    frame = pd.DataFrame(data, dtype=object)
    if extra is not None:
        rest = extra.drop(columns=[c for c in CANONICAL if c in extra.columns]).reset_index(drop=True)
        frame = pd.concat([frame, rest], axis=1)
    return frame


def history_text(turns: list[dict[str, str]]) -> str:
    """History as stored in the frame: JSON of [{"role", "content"}], or "" when there is none."""
    return json.dumps(turns, ensure_ascii=False) if turns else ""


def messages(row: Mapping[str, Any]) -> list[dict[str, str]]:
    """The conversation of a canonical row: system (when non-empty), the history turns, prompt, response."""
    turns = [{"role": "system", "content": str(row["system"])}] if row.get("system") else []
    if row.get("history"):
        turns += [{"role": str(t["role"]), "content": str(t["content"])} for t in json.loads(str(row["history"]))]
    return [*turns, {"role": "user", "content": str(row.get("prompt") or "")},
            {"role": "assistant", "content": str(row.get("response") or "")}]


def row_ids(frame: pd.DataFrame, positions: Iterable[int]) -> list[Any]:
    """How rows are named in infos: by the row id column when the frame has one, else 1-based position."""
    if ROW in frame.columns:
        column = frame[ROW].tolist()
        return [_plain(column[p]) for p in positions]
    return [int(p) + 1 for p in positions]


def sample(items: list[Any]) -> list[Any]:
    """The first SAMPLE items, as listed in an info (counts are always complete)."""
    return items[:SAMPLE]


def _text(value: object) -> str:
    if value is None or (not isinstance(value, list | dict) and pd.isna(value)):
        return ""
    return str(value)


def _plain(value: object) -> Any:
    return value.item() if hasattr(value, "item") else value
