"""Arrow ⇄ pandas at operator boundaries, keeping None for missing strings and NaN/NaT for typed ones."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A pandas frame of an Arrow table (strings as objects with None)."""
    frame = table.to_pandas()
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
    return frame


def to_table(frame: pd.DataFrame) -> pa.Table:
    """An Arrow table of a pandas frame, without the index."""
    return pa.Table.from_pandas(frame, preserve_index=False)
