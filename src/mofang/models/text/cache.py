"""Fitted text features shared between families: the same TF-IDF on the same rows is fitted once per job."""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import joblib
import pandas as pd

from mofang.models.text.pipeline import TextPipeline

KEEP = 2  # fitted (pipeline, X, X_valid) entries kept in memory (a 50k-review TF-IDF is ~100 MB)
_CACHE: OrderedDict[str, tuple[TextPipeline, Any, Any]] = OrderedDict()


def fit_features(pipeline: TextPipeline, train: pd.DataFrame,
                 valid: pd.DataFrame) -> tuple[TextPipeline, Any, Any]:
    """`pipeline` fitted on train with the inputs of train and valid, or the same from an earlier
    family that fitted an identically configured pipeline on identical rows."""
    if pipeline.mode == "text-raw":  # nothing to fit: not worth caching
        pipeline.fit(train)
        return pipeline, pipeline.transform(train), pipeline.transform(valid)
    key = _key(pipeline, train, valid)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    pipeline.fit(train)
    entry = (pipeline, pipeline.transform(train), pipeline.transform(valid))
    _CACHE[key] = entry
    while len(_CACHE) > KEEP:
        _CACHE.popitem(last=False)
    return entry


def clear() -> None:
    _CACHE.clear()


def _key(pipeline: TextPipeline, train: pd.DataFrame, valid: pd.DataFrame) -> str:
    names = [f["name"] for f in pipeline.features]
    config = {k: v for k, v in vars(pipeline).items() if not k.endswith("_")}
    return joblib.hash((json.dumps(config, sort_keys=True, default=str), train[names], valid[names]))
