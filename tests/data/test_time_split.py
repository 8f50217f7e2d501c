"""Time-aware split: train on the past, valid and test on the future, ties kept together; an AI4I order on the
shared tab-separated file ingests without flags and is split by its row counter UDI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mofang.core.errors import DataError
from mofang.data import DataWorkshop
from mofang.data.split import split_by_time, time_keys
from mofang.orders import parse_order
from tests.conftest import shared_dataset


def test_parts_follow_time_and_ties_stay_together() -> None:
    rng = np.random.default_rng(0)
    days = pd.Series(pd.date_range("2024-01-01", periods=50, freq="D").repeat(4)).sample(frac=1, random_state=1)
    times = days.dt.strftime("%Y/%m/%d").reset_index(drop=True)  # text, shuffled: the split sorts it
    split = split_by_time(times, "day", pd.Series(rng.integers(0, 2, 200)), classification=True)
    keys = time_keys(times, "day")
    train, valid, test = keys[split.train], keys[split.valid], keys[split.test]
    assert train.max() < valid.min() and valid.max() < test.min()
    assert len(split.train) + len(split.valid) + len(split.test) == 200
    assert np.all(np.diff(train) >= 0) and np.all(np.diff(test) >= 0)  # each part in time order
    assert abs(len(split.test) - 30) <= 4  # about 15%, moved to a day boundary


def test_numbers_kept_as_text_order_numerically() -> None:
    assert time_keys(pd.Series(["9", "10", "100"]), "UDI").tolist() == [9.0, 10.0, 100.0]


def test_unreadable_times_and_single_class_pasts_are_named() -> None:
    times = pd.Series(["2024-01-01"] * 20 + ["soon"] + ["2024-02-01"] * 19)
    with pytest.raises(DataError, match=r"time column 'ts': 1 values are missing or not a time \(rows \[21\]"):
        split_by_time(times, "ts")
    stamps = pd.Series(pd.date_range("2024-01-01", periods=40, freq="h"))
    late_only = pd.Series([0] * 34 + [1] * 6)
    with pytest.raises(DataError, match="earliest 70% of rows by 'ts' hold a single class"):
        split_by_time(stamps, "ts", late_only, classification=True)
    with pytest.raises(DataError, match="too few distinct times"):
        split_by_time(pd.Series(["2024-01-01"] * 40), "ts")


AI4I = """
id: machine-failure
tenant: plant-7
task: tabular-classification
data:
  path: {path}
target: Machine failure
time_column: UDI
columns:
  deny: [TWF, HDF, PWF, OSF, RNF]
acceptance: none
"""


@pytest.mark.slow
def test_ai4i_order_ingests_without_flags_and_splits_by_udi(make_ctx) -> None:
    path = shared_dataset("timeseries/ai4i2020_predictive_maintenance.tsv")
    ctx = make_ctx(parse_order(AI4I.format(path=path)), station="data")
    station = DataWorkshop()
    summaries = {process: getattr(station, process)(ctx) for process in station.processes}
    assert "10,000 rows" in summaries["ingest"] and "by time on 'UDI'" in summaries["split"]
    features = [f["name"] for f in ctx.load("dataset")["features"]]
    assert "UDI" not in features and "Product ID" not in features and "Torque [Nm]" in features
    dropped = {d["name"]: d["reason"] for d in ctx.load("dataset")["dropped"]}
    assert "time column" in dropped["UDI"]
    parts = {name: pd.to_numeric(ctx.load(name)["UDI"]) for name in ("train", "valid", "test")}
    assert parts["train"].max() < parts["valid"].min() and parts["valid"].max() < parts["test"].min()
    assert [len(p) for p in parts.values()] == [7000, 1500, 1500]
    assert ctx.load("test")["Machine failure"].astype(str).nunique() == 2  # failures to evaluate on
