"""Instruction rows from the layouts customers bring: alpaca, lawbench-style, sharegpt chats, or a Q&A table."""

from __future__ import annotations

import json
import string
from collections import Counter
from typing import Any

import pandas as pd

from mofang.core.errors import DataError, MofangError
from mofang.tasks.llm.instructions.frame import canonical_frame, history_text, row_ids, sample

FORMATS = ("auto", "alpaca", "lawbench", "sharegpt", "qa")
LAYOUTS = ("alpaca: instruction, input (optional), output; optional system, history ([[user, assistant], ...])",
           "lawbench: instruction, question, answer",
           "sharegpt: conversations ([{from, value}, ...]) or messages ([{role, content}, ...])",
           "qa: a question and an answer column named by prompt_column and response_column (or a template)")
QUESTION_COLUMNS = ("question", "prompt", "query", "ask")  # a Q&A table's question column when none is named
ANSWER_COLUMNS = ("answer", "response", "reply")
USER_ROLES = frozenset({"human", "user"})
ASSISTANT_ROLES = frozenset({"gpt", "assistant", "bot", "chatgpt", "model"})
_REQUIRED = {"alpaca": ("instruction", "output"), "lawbench": ("instruction", "question", "answer")}
Row = dict[str, str] | str  # the canonical values of a row, or why it is dropped


def to_instructions(frame: pd.DataFrame, *, label: str, fmt: str = "auto", prompt_column: str | None = None,
                    response_column: str | None = None, template: str | None = None,
                    ) -> tuple[pd.DataFrame, dict]:
    """Canonical instruction rows (system, history, prompt, response, then the source's unused columns).

    `fmt` is one of FORMATS; "auto" picks sharegpt (a conversations/messages column), alpaca (instruction,
    output), lawbench (instruction, question, answer) or qa (prompt_column/response_column/template given, or
    a question and an answer column). A qa `template` is a format string over the row's columns that becomes
    the prompt (prompt_column is then not used). alpaca, lawbench and qa rows take an optional `system` and
    `history` column. The columns a format reads are not kept. Rows with an empty prompt or response, and
    chats that do not end with an assistant turn, are dropped; the info counts them by reason. Raises
    DataError (source `label`, 1-based row of `frame`) for a layout it cannot read.
    """
    if fmt not in FORMATS:
        raise MofangError(f"unknown instruction format '{fmt}'; use one of {', '.join(FORMATS)}")
    chosen = detect_format(frame, label=label, prompt_column=prompt_column, response_column=response_column,
                           template=template) if fmt == "auto" else fmt
    info: dict[str, Any] = {"format": chosen, "rows_in": len(frame)}
    records = frame.to_dict("records")
    if chosen == "sharegpt":
        column = "conversations" if "conversations" in frame.columns else "messages"
        _require(frame, (column,), chosen, label)
        rows = [_sharegpt(r, column, label, i + 1) for i, r in enumerate(records)]
        used = [column, "system"]
    elif chosen == "qa":
        question, answer = _qa_columns(frame, label, prompt_column, response_column, template)
        fields = template_fields(template, list(frame.columns), label) if template is not None else []
        rows = [_qa(r, question, answer, template, label, i + 1) for i, r in enumerate(records)]
        used = [c for c in (question, answer, *fields, "system", "history") if c]
        info.update(prompt_column=question, response_column=answer, template=template)
    else:
        _require(frame, _REQUIRED[chosen], chosen, label)
        build = _alpaca if chosen == "alpaca" else _lawbench
        rows = [build(r, label, i + 1) for i, r in enumerate(records)]
        used = [*_REQUIRED[chosen], "input", "system", "history"]
    rows = [_check_empty(row) for row in rows]
    kept = [i for i, row in enumerate(rows) if isinstance(row, dict)]
    dropped = [i for i, row in enumerate(rows) if isinstance(row, str)]
    rest = frame.drop(columns=[c for c in dict.fromkeys(used) if c in frame.columns]).iloc[kept]
    out = canonical_frame([rows[i] for i in kept], rest)  # type: ignore[misc]
    reasons = Counter(str(rows[i]) for i in dropped)
    info.update(rows=len(out), dropped=len(dropped), dropped_reasons=dict(reasons),
                dropped_rows=[{"row": rid, "reason": rows[i]} for rid, i in zip(row_ids(frame, sample(dropped)),
                                                                                   sample(dropped), strict=True)],
                multi_turn=int((out["history"] != "").sum()))
    return out, info


def detect_format(frame: pd.DataFrame, *, label: str, prompt_column: str | None = None,
                  response_column: str | None = None, template: str | None = None) -> str:
    """The layout of `frame` from its columns; DataError listing the columns and layouts when it cannot tell."""
    columns = set(frame.columns)
    if prompt_column or response_column or template:
        return "qa"
    if columns & {"conversations", "messages"}:
        return "sharegpt"
    for fmt, needed in _REQUIRED.items():
        if set(needed) <= columns:
            return fmt
    if _first(columns, QUESTION_COLUMNS) and _first(columns, ANSWER_COLUMNS):
        return "qa"
    raise DataError(f"cannot tell the instruction layout from the columns {_listed(frame)}; expected one of: "
                    + "; ".join(LAYOUTS), source=label)


def template_fields(template: str, columns: list[str], label: str) -> list[str]:
    """The columns a prompt template names; DataError for a column the source lacks."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise MofangError(f"the prompt template is not a valid format string ({exc}): {template!r}") from None
    fields = []
    for name in names:
        base = name.split(".", 1)[0].split("[", 1)[0]
        if not base or base.isdigit():
            raise MofangError(f"the prompt template's fields must name columns, like {{title}}: {template!r}")
        if base not in columns:
            raise DataError(f"the prompt template names column '{base}', which the source lacks; columns: "
                            + ", ".join(columns), source=label, column=base)
        fields.append(base)
    return list(dict.fromkeys(fields))


def _require(frame: pd.DataFrame, needed: tuple[str, ...], fmt: str, label: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"format {fmt} needs the columns {', '.join(needed)}; missing {', '.join(missing)}; the "
                        f"source has {_listed(frame)}", source=label)


def _qa_columns(frame: pd.DataFrame, label: str, prompt_column: str | None, response_column: str | None,
                template: str | None) -> tuple[str | None, str]:
    columns = set(frame.columns)
    question = None if template is not None else prompt_column or _first(columns, QUESTION_COLUMNS)
    answer = response_column or _first(columns, ANSWER_COLUMNS)
    for role, name, known in (("prompt_column", question, QUESTION_COLUMNS), ("response_column", answer,
                                                                              ANSWER_COLUMNS)):
        if role == "prompt_column" and template is not None:
            continue
        if name is None:
            raise DataError(f"a Q&A table needs {role} (no column is called {'/'.join(known)}); the source has "
                            f"{_listed(frame)}", source=label)
        if name not in columns:
            raise DataError(f"{role} '{name}' is not a column of the source; it has {_listed(frame)}",
                            source=label, column=name)
    assert answer is not None
    return question, answer


def _sharegpt(record: dict, column: str, label: str, row: int) -> Row:
    turns = _parse_turns(record.get(column), label, row, column)
    if isinstance(turns, str):
        return turns
    system = _text(record.get("system"))
    if turns and turns[0]["role"] == "system":
        system, turns = turns[0]["content"], turns[1:]
    if not turns:
        return "no user or assistant turns"
    for i, turn in enumerate(turns):
        expected = "user" if i % 2 == 0 else "assistant"
        if turn["role"] != expected:
            raise DataError(f"turn {i + 1} is from '{turn['role']}' but should be from '{expected}'; user and "
                            "assistant turns must alternate, starting with the user (a system turn only first)",
                            source=label, row=row, column=column)
    if turns[-1]["role"] != "assistant":
        return "does not end with an assistant turn"
    return {"system": system, "history": history_text(turns[:-2]), "prompt": turns[-2]["content"],
            "response": turns[-1]["content"]}


def _parse_turns(cell: object, label: str, row: int, column: str) -> list[dict[str, str]] | str:
    """[{"role", "content"}] of a conversations/messages cell (roles normalised), or why the row is dropped."""
    if _blank(cell):
        return "empty conversation"
    items = _json(cell, label, row, column)
    if not isinstance(items, list) or not all(isinstance(t, dict) for t in items):
        raise DataError("must be a JSON list of turns like {\"from\": \"human\", \"value\": \"...\"} or "
                        "{\"role\": \"user\", \"content\": \"...\"}", source=label, row=row, column=column)
    turns = []
    for item in items:
        role = str(item.get("from", item.get("role", ""))).strip().lower()
        if role in USER_ROLES:
            role = "user"
        elif role in ASSISTANT_ROLES:
            role = "assistant"
        elif role != "system":
            return f"unsupported role '{role}'"
        turns.append({"role": role, "content": _content(item.get("value", item.get("content")))})
    return turns


def _alpaca(record: dict, label: str, row: int) -> Row:
    prompt = "\n\n".join(p for p in (_text(record.get("instruction")), _text(record.get("input"))) if p)
    return {**_context(record, label, row), "prompt": prompt, "response": _text(record.get("output"))}


def _lawbench(record: dict, label: str, row: int) -> Row:
    prompt = "\n".join(p for p in (_text(record.get("instruction")), _text(record.get("question"))) if p)
    return {**_context(record, label, row), "prompt": prompt, "response": _text(record.get("answer"))}


def _qa(record: dict, question: str | None, answer: str, template: str | None, label: str, row: int) -> Row:
    if template is not None:
        values = {k: _text(v) for k, v in record.items()}
        try:
            prompt = template.format_map(values).strip()
        except (ValueError, AttributeError, IndexError, KeyError, TypeError) as exc:
            raise DataError(f"cannot fill the prompt template {template!r}: {exc}", source=label, row=row) from None
    else:
        prompt = _text(record.get(question))
    return {**_context(record, label, row), "prompt": prompt, "response": _text(record.get(answer))}


def _context(record: dict, label: str, row: int) -> dict[str, str]:
    """system and history of a single-turn layout; history is [[user, assistant], ...] or [{role, content}]."""
    cell = record.get("history")
    turns: list[dict[str, str]] = []
    if not _blank(cell):
        items = _json(cell, label, row, "history")
        if not isinstance(items, list):
            raise DataError("history must be a JSON list of [user, assistant] pairs", source=label, row=row,
                            column="history")
        for item in items:
            if isinstance(item, list) and len(item) == 2:
                turns += [{"role": "user", "content": _content(item[0])},
                          {"role": "assistant", "content": _content(item[1])}]
            elif isinstance(item, dict) and "role" in item:
                turns.append({"role": str(item["role"]), "content": _content(item.get("content"))})
            else:
                raise DataError("history must be a JSON list of [user, assistant] pairs; found "
                                f"{json.dumps(item, ensure_ascii=False)[:80]}", source=label, row=row,
                                column="history")
    return {"system": _text(record.get("system")), "history": history_text(turns)}


def _json(cell: object, label: str, row: int, column: str) -> Any:
    if not isinstance(cell, str):
        return cell
    try:
        return json.loads(cell)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc.msg} at character {exc.pos + 1})", source=label, row=row,
                        column=column) from None


def _content(value: object) -> str:
    """A turn's text; OpenAI-style lists of parts are joined."""
    if isinstance(value, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in value).strip()
    return _text(value)


def _check_empty(row: Row) -> Row:
    if isinstance(row, dict):
        if not row["prompt"].strip():
            return "empty prompt"
        if not row["response"].strip():
            return "empty response"
    return row


def _text(value: object) -> str:
    return "" if _blank(value) else str(value).strip()


def _blank(value: object) -> bool:
    """None, NaN/NA or only whitespace (a list or dict is never blank here)."""
    if isinstance(value, str):
        return not value.strip()
    return value is None or (not isinstance(value, list | dict) and bool(pd.isna(value)))


def _first(columns: set[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in columns), None)


def _listed(frame: pd.DataFrame) -> str:
    return ", ".join(str(c) for c in frame.columns) or "(none)"
