"""Real public files from ../shared/datasets read without flags, and one full station run on them."""

from __future__ import annotations

import pytest

from mofang.data import DataWorkshop, infer_kind, read_source
from mofang.orders import Order
from tests.conftest import shared_dataset
from tests.data.helpers import source


@pytest.mark.parametrize("relative, rows, column, encoding, separator", [
    ("tabular/taiwan_credit_default.csv", 30_000, "default.payment.next.month", "UTF-8", ","),
    ("tabular/german_credit.csv", 1_000, "credit_risk", "UTF-8", ","),
    ("tabular/bank_marketing.csv", 8_237, "y", "UTF-8", ","),
    ("tabular/superstore_orders.csv", 10_194, "Row ID", "UTF-8-BOM", ","),
    ("timeseries/ai4i2020_predictive_maintenance.tsv", 10_000, "Machine failure", "UTF-8", "\t"),
    ("qa/medical_dialogue_internal_gb18030.csv", 7_644, "department", None, ","),
])
def test_reads_without_flags(relative: str, rows: int, column: str, encoding: str | None,
                             separator: str) -> None:
    frame = read_source(source(shared_dataset(relative)))
    assert len(frame) == rows and column in frame.columns
    info = frame.attrs["source"]
    assert info["separator"] == separator
    if encoding:
        assert info["encoding"] == encoding
    else:
        assert info["encoding"] in ("GBK", "GB18030") and frame["department"].str.contains("科").any()


def test_superstore_kinds() -> None:
    frame = read_source(source(shared_dataset("tabular/superstore_orders.csv")))
    assert infer_kind(frame["Order Date"]) == "datetime"
    assert infer_kind(frame["Row ID"]) == "identifier"
    assert infer_kind(frame["Sales"]) == "numeric" and infer_kind(frame["Segment"]) == "categorical"


@pytest.mark.slow
def test_station_on_taiwan_credit(make_ctx) -> None:
    order = Order.model_validate({"id": "taiwan", "tenant": "bank", "task": "tabular-classification",
                                  "data": {"path": str(shared_dataset("tabular/taiwan_credit_default.csv"))},
                                  "target": "default.payment.next.month", "id_column": "ID"})
    ctx = make_ctx(order, station="data")
    station = DataWorkshop()
    for process in station.processes:
        getattr(station, process)(ctx)
    dataset = ctx.load("dataset")
    assert dataset["classes"] == ["0", "1"]
    assert sum(dataset["rows"].values()) == 30_000 - ctx.load("dedupe_trace")["removed"]
    assert ctx.load("dedupe_trace")["removed"] == 35
    assert len(dataset["features"]) == 23 and dataset["dropped"][0]["name"] == "ID"
