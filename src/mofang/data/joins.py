"""Join one source onto the sources before it on a key, refusing joins that would silently multiply rows."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pandas as pd

from mofang.core.errors import DataError
from mofang.orders.schema import Source

BEFORE = "the sources before it"


def join_onto(left: pd.DataFrame, right: pd.DataFrame, source: Source) -> tuple[pd.DataFrame, dict]:
    """`right` (read from `source`, which has a `join`) joined onto `left`; and what the join did.

    Raises DataError when a key is missing on either side, or repeats in `right` without `join.many`.
    Columns of `right` that clash with `left` get the suffix _<file stem> (or _<table>).
    """
    assert source.join is not None
    keys, how = source.join.keys, source.join.how
    _check_keys(keys, left, BEFORE, source)
    _check_keys(keys, right, "this source", source)
    usable = right.dropna(subset=keys)
    repeated = usable[usable.duplicated(subset=keys, keep=False)]
    if len(repeated) and not source.join.many:
        counts = repeated.groupby(keys, sort=False).size().sort_values(ascending=False)
        example = counts.index[0] if len(keys) == 1 else "/".join(map(str, counts.index[0]))
        raise DataError(f"join key {_name(keys)} is not unique in this source: {len(counts):,} keys appear more "
                        f"than once (e.g. '{example}' ×{counts.iloc[0]}), so the join would multiply rows; "
                        "remove the duplicates or set join.many: true", source=source.label, column=keys[0])
    renamed = _renames(left, usable, keys, _suffix(source))
    matched = _key_index(left, keys).isin(_key_index(usable, keys))
    present = left[keys].notna().all(axis=1).to_numpy()
    joined = left.merge(usable.rename(columns=renamed), on=keys, how=how, sort=False).reset_index(drop=True)
    joined = joined.astype(object).where(joined.notna(), None)  # unmatched rows: None, as every connector
    unmatched_keys = left.loc[~matched & present, keys].drop_duplicates()
    info = {"on": keys, "how": how, "rows_before": len(left), "rows_after": len(joined),
            "unmatched_keys": len(unmatched_keys), "unmatched_rows": int((~matched).sum()),
            "renamed": renamed, "dropped_missing_keys": len(right) - len(usable)}
    return joined, info


def _check_keys(keys: list[str], frame: pd.DataFrame, side: str, source: Source) -> None:
    for key in keys:
        if key not in frame.columns:
            close = difflib.get_close_matches(key, [str(c) for c in frame.columns], n=1)
            hint = f" — did you mean '{close[0]}'?" if close else ""
            columns = ", ".join(map(str, list(frame.columns)[:40]))
            raise DataError(f"join key '{key}' is not in {side}{hint} (columns: {columns})", source=source.label,
                            column=key)


def _renames(left: pd.DataFrame, right: pd.DataFrame, keys: list[str], suffix: str) -> dict[str, str]:
    taken = set(left.columns) | set(right.columns)
    renamed = {}
    for column in right.columns:
        if column in keys or column not in left.columns:
            continue
        name, n = f"{column}_{suffix}", 2
        while name in taken:
            name, n = f"{column}_{suffix}{n}", n + 1
        renamed[column] = name
        taken.add(name)
    return renamed


def _suffix(source: Source) -> str:
    if source.path is not None:
        stem = Path(source.path).name.split(".")[0]
    else:
        stem = (source.table or "query").rpartition(".")[2]
    return re.sub(r"\s+", "_", stem) or "right"


def _key_index(frame: pd.DataFrame, keys: list[str]) -> pd.Index:
    return pd.MultiIndex.from_frame(frame[keys]) if len(keys) > 1 else pd.Index(frame[keys[0]])


def _name(keys: list[str]) -> str:
    return f"'{keys[0]}'" if len(keys) == 1 else "(" + ", ".join(f"'{k}'" for k in keys) + ")"
