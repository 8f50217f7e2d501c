"""Profile a table: each column's kind, missing share, distinct count and (for dates) day/month order."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from mofang.data.ops import ROW
from mofang.data.pii import find_pii
from mofang.data.types import date_order, infer_kind


def profile_frame(frame: pd.DataFrame, on_reason: Callable[[str], None] | None = None) -> dict:
    """{"rows": n, "columns": {name: {kind, missing_ratio, distinct, dayfirst?, pii?}}} of a raw string table;
    a column of personal data is never numeric (an ID card number is a string of digits, not a quantity)."""
    columns: dict[str, dict] = {}
    for name in frame.columns:
        if name == ROW:
            continue
        values = frame[name]
        kind = infer_kind(values)
        finding = find_pii(str(name), values)
        if finding is not None and kind in ("numeric", "datetime", "boolean"):
            kind = "identifier"  # ID card and phone numbers look numeric; parsed as floats they would be mangled
        spec = {"kind": kind, "missing_ratio": round(float(values.isna().mean()), 4),
                "distinct": int(values.nunique())}
        if finding is not None:
            spec["pii"] = finding.kind
        if kind == "datetime":
            spec["dayfirst"] = date_order(values)
            if spec["dayfirst"] is not None and on_reason is not None:
                order = "day-first (dd/mm)" if spec["dayfirst"] else "month-first (mm/dd)"
                on_reason(f"column {name}: dates read {order}, as a value above 12 shows")
        columns[name] = spec
    return {"rows": len(frame), "columns": columns}
