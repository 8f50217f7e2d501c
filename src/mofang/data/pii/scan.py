"""A read-only survey of personal data in a table: counts per column and kind, with masked examples."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.data.missing import to_text
from mofang.data.pii.columns import find_pii
from mofang.data.pii.desensitize import KindReport
from mofang.data.pii.spans import find_spans_many

SCAN_ROWS = 20_000  # text cells scanned per column; counts are over these


def scan_table(frame: pd.DataFrame, rows: int = SCAN_ROWS) -> dict[str, Any]:
    """Per column: the kind it wholly holds (with share), or counts of spans found in its text; masked examples."""
    result: dict[str, Any] = {}
    for column in frame.columns:
        name = str(column)
        values = frame[column]
        finding = find_pii(name, values)
        if finding is not None:
            report = KindReport("")
            for value in values.dropna().head(rows).map(to_text):
                report.record(finding.kind, value)
            result[name] = {"scope": "column", "kind": finding.kind, "share": round(finding.share, 4),
                            "found": int(values.notna().sum()), "examples": report.examples}
            continue
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        texts = [v if isinstance(v, str) else None for v in values.head(rows)]
        reports: dict[str, KindReport] = {}
        for spans in find_spans_many(texts):
            for span in spans:
                reports.setdefault(span.kind, KindReport("")).record(span.kind, span.text)
        if reports:
            kinds = {k: {"found": r.found, "examples": r.examples} for k, r in sorted(reports.items())}
            result[name] = {"scope": "text", "rows_scanned": len(texts), "kinds": kinds}
    return result
