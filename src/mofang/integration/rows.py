"""A few served rows as columns without pandas: the feature pipelines' small-batch path reads only
`columns`, `len()` and `frame[name].tolist()`, and building a DataFrame for one row cost more than the model."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.models.features import SMALL_BATCH, FeaturePipeline
from mofang.models.text.pipeline import TextPipeline


class Column(list):
    """One column's values, read by the pipelines as `tolist()`."""

    def tolist(self) -> list[Any]:
        return list(self)


class Columns:
    """Rows → named columns (missing fields → None); quacks like the DataFrame the small path reads."""

    def __init__(self, records: list[dict[str, Any]], names: list[str]) -> None:
        self.columns = list(names)
        self._values = {name: Column(row.get(name) for row in records) for name in names}
        self._n = len(records)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, name: str) -> Column:
        return self._values[name]


def model_input(records: list[dict[str, Any]], names: list[str], pipeline: Any) -> Any:
    """What to hand a candidate for `records`: light columns for a few rows through a tabular or text
    pipeline (their value-by-value path), else a DataFrame."""

    if len(records) <= SMALL_BATCH and (isinstance(pipeline, FeaturePipeline) or (
            isinstance(pipeline, TextPipeline) and pipeline.mode == "text-sparse")):
        return Columns(records, names)
    return pd.DataFrame([{name: row.get(name) for name in names} for row in records], columns=names)
