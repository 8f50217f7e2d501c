"""The spellings of a missing value in customer files, and turning them into None."""

from __future__ import annotations

import pandas as pd

MISSING = frozenset({"", "NA", "N/A", "n/a", "na", "#N/A", "null", "NULL", "Null", "None", "none", "nan",
                     "NaN", "NAN", "-", "--", "—", "无", "空", "NaT"})


def blank_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn every missing spelling (after stripping spaces) into None; keep other strings as read."""
    out = {}
    for position in range(frame.shape[1]):  # by position: a name may repeat
        values = frame.iloc[:, position]
        stripped = values.astype("string").str.strip()
        mask = stripped.isna() | stripped.isin(MISSING)
        out[position] = values.astype(object).where(~mask.to_numpy(dtype=bool), None)
    return _framed(out, frame.index, list(frame.columns))


def stringify(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn typed columns (parquet, json, sql) into strings, keeping nulls as None."""
    out = {}
    for position in range(frame.shape[1]):  # by position: a name may repeat (a query selecting a column twice)
        values = frame.iloc[:, position]
        mask = values.isna().to_numpy(dtype=bool)
        if values.dtype == object:
            text = values.map(to_text, na_action="ignore")
        else:
            text = values.astype(str).astype(object)
        out[position] = text.where(~mask, None)
    return blank_missing(_framed(out, frame.index, [str(c) for c in frame.columns]))


def _framed(columns: dict[int, pd.Series], index: pd.Index, names: list) -> pd.DataFrame:
    frame = pd.DataFrame(columns, index=index)
    frame.columns = names
    return frame


def to_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        import json

        return json.dumps(value, ensure_ascii=False)
    return str(value)
