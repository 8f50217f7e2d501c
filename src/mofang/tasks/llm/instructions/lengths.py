"""Length filtering by tokens: drop examples longer than the model is trained on, and say how long the rest are."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mofang.core.errors import MofangError
from mofang.tasks.llm.instructions.frame import row_ids, sample

QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


def filter_by_tokens(frame: pd.DataFrame, count_tokens: Callable[[dict], int], max_tokens: int,
                     ) -> tuple[pd.DataFrame, dict]:
    """Rows whose `count_tokens(row)` (row as a dict of its columns; the caller renders the chat template) is at
    most `max_tokens`. Info: rows in/out, dropped count, the longest kept, the first dropped rows with their
    token counts, and the token-length quantiles (p50/p90/p99/max) of the kept rows."""
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int | np.integer) or max_tokens < 1:
        raise MofangError(f"max_tokens must be a positive whole number of tokens, got {max_tokens!r}")
    counts = np.array([_count(count_tokens, row) for row in frame.to_dict("records")], dtype=np.int64)
    keep = counts <= max_tokens
    dropped = np.flatnonzero(~keep).tolist()
    kept_counts = counts[keep]
    info = {"max_tokens": int(max_tokens), "rows_in": len(frame), "rows": int(keep.sum()), "dropped": len(dropped),
            "longest_kept": int(kept_counts.max()) if kept_counts.size else 0,
            "dropped_rows": [{"row": rid, "tokens": int(counts[i])}
                             for rid, i in zip(row_ids(frame, sample(dropped)), sample(dropped), strict=True)],
            "tokens": token_quantiles(kept_counts)}
    return frame[keep].reset_index(drop=True), info


def token_quantiles(counts: np.ndarray) -> dict[str, int]:
    """p50/p90/p99/max of token counts (all 0 for none)."""
    if not len(counts):
        return {name: 0 for name in (*QUANTILES, "max")}
    values = {name: int(np.ceil(np.quantile(counts, q))) for name, q in QUANTILES.items()}
    return {**values, "max": int(np.max(counts))}


def _count(count_tokens: Callable[[dict], int], row: dict) -> int:
    value = count_tokens(row)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise MofangError(f"the token counter returned {value!r}; it must return a whole number of tokens")
    return int(value)
