"""The "try it" form of a product that scores rows: one input per feature, typed from the product's schema and its
training reference (`reference.json`): a dropdown of the categories it learnt, a number field with the range it
saw, a date picker, a yes/no choice; and refusals said in plain words."""

from __future__ import annotations

import re
from typing import Any

NUMERIC, CATEGORICAL, BOOLEAN, DATETIME = "numeric", "categorical", "boolean", "datetime"
_FIELD = re.compile(r"field '([^']+)': (.*)$")


def fields(schema: dict[str, Any], reference: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each feature as the form shows it: `input` (select, number, date or text) with its options or range."""
    profiles = (reference or {}).get("features") or {}
    shown = []
    for feature in schema.get("features") or []:
        name, kind = str(feature["name"]), str(feature.get("kind") or "")
        profile = profiles.get(name) or {}
        field: dict[str, Any] = {"name": name, "kind": kind, "input": "text"}
        if kind == CATEGORICAL and profile.get("categories"):
            field.update(input="select", options=[str(c) for c in profile["categories"]])
        elif kind == BOOLEAN:
            field.update(input="select", options=["true", "false"])
        elif kind == NUMERIC:
            field["input"] = "number"
            quantiles = [q for q in profile.get("quantiles") or [] if q is not None]
            if quantiles:
                field.update(low=_round(quantiles[0]), high=_round(quantiles[-1]),
                             typical=_round(quantiles[len(quantiles) // 2]))
        elif kind == DATETIME:
            field["input"] = "date"
        shown.append(field)
    return shown


def plain_error(message: str, t: Any) -> str:
    """A refusal of the try-it form in the reader's language: which field, what is wrong, what to do."""
    found = _FIELD.search(message)
    if found:
        return t("tryit.field_error", field=found.group(1), problem=found.group(2))
    return t("tryit.error", problem=message)


def _round(value: float) -> float | int:
    number = float(value)
    return int(number) if number.is_integer() else round(number, 4)
