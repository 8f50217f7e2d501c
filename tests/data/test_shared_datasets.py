"""Real public files from ../shared/datasets read without flags, and one full station run on them."""

from __future__ import annotations

import pytest

from mofang.data import DataWorkshop, infer_kind, read_source
from mofang.orders import Order
from tests.conftest import shared_dataset
from tests.data.helpers import source

# every file of ../shared/datasets: (relative path, rows, a column, encoding, separator); None: not a text table
DATASETS = [
    ("tabular/taiwan_credit_default.csv", 30_000, "default.payment.next.month", "UTF-8", ","),
    ("tabular/german_credit.csv", 1_000, "credit_risk", "UTF-8", ","),
    ("tabular/bank_marketing.csv", 8_237, "y", "UTF-8", ","),
    ("tabular/bank_churn_with_missing.csv", 10_000, "Exited", "UTF-8", ","),
    ("tabular/superstore_orders.csv", 10_194, "Row ID", "UTF-8-BOM", ","),
    ("timeseries/ai4i2020_predictive_maintenance.tsv", 10_000, "Machine failure", "UTF-8", "\t"),
    ("timeseries/walmart_weekly_sales.csv", 6_435, "Weekly_Sales", "UTF-8", ","),
    ("timeseries/skab-valve1/0.csv", 1_147, "anomaly", "UTF-8", ";"),
    ("timeseries/skab-valve1/anomaly-free.csv", 9_405, "Accelerometer1RMS", "UTF-8", ";"),
    ("timeseries/nab/nyc_taxi.csv", 10_320, "value", "UTF-8", ","),
    ("timeseries/nab/machine_temperature_system_failure.csv", 22_695, "timestamp", "UTF-8", ","),
    ("timeseries/nab/ambient_temperature_system_failure.csv", 7_267, "value", "UTF-8", ","),
    ("timeseries/nab/cpu_utilization_asg_misconfiguration.csv", 18_050, "value", "UTF-8", ","),
    ("timeseries/nab/ec2_request_latency_system_failure.csv", 4_032, "value", "UTF-8", ","),
    ("timeseries/nab/rogue_agent_key_hold.csv", 1_882, "value", "UTF-8", ","),
    ("timeseries/nab/rogue_agent_key_updown.csv", 5_315, "value", "UTF-8", ","),
    ("timeseries/nab/combined_windows.json", 116, "key", "UTF-8", None),
    ("qa/medical_dialogue_internal_gb18030.csv", 7_644, "department", "GBK", ","),
    ("qa/gov_message_replies_taidi2020.xlsx", 120, "答复意见", None, None),
    ("qa/lawbench/1-2.json", 500, "answer", "UTF-8", None),
    ("qa/lawbench/3-6.json", 500, "question", "UTF-8", None),
    ("qa/lawbench/3-8.json", 500, "instruction", "UTF-8", None),
    ("text-classification/online_shopping_10_cats.csv", 62_774, "review", "UTF-8", ","),
    ("text-classification/waimai_10k.csv", 11_987, "review", "UTF-8", ","),
    ("text-classification/fewclue-tnews/train_few_all.json", 1_185, "sentence", "UTF-8", None),
    ("text-classification/fewclue-tnews/dev_few_all.json", 1_098, "label_desc", "UTF-8", None),
    ("text-classification/fewclue-tnews/test_public.json", 2_010, "sentence", "UTF-8", None),
    ("text-classification/review_polarity_en.tar.gz", 2_000, "label", None, None),
    ("pii/bdci2020_privacy_entities.jsonl", 2_515, "entities", "UTF-8", None),
    ("pii/multipriv_person_1000_zh.json", 975, "naturalParagraph", "UTF-8", None),
    ("pii/cluener/train.jsonl", 10_748, "entity_list", "UTF-8", None),
    ("pii/cluener/dev.jsonl", 1_343, "entity_list", "UTF-8", None),
]
SLOW = {"text-classification/gov_messages_taidi2020.xlsx"}  # 65k padded rows: about 3 s


@pytest.mark.parametrize("relative, rows, column, encoding, separator", DATASETS)
def test_reads_without_flags(relative: str, rows: int, column: str, encoding: str | None,
                             separator: str | None) -> None:
    frame = read_source(source(shared_dataset(relative)))
    assert len(frame) == rows and column in frame.columns
    info = frame.attrs["source"]
    assert info.get("separator") == separator and info.get("encoding") == encoding
    assert frame[column].notna().mean() > 0.5


@pytest.mark.slow
def test_padded_gov_sheet() -> None:
    frame = read_source(source(shared_dataset("text-classification/gov_messages_taidi2020.xlsx")))
    assert len(frame) == 495 and len(frame.attrs["source"]["sheets"]) == 1
    assert frame["一级分类"].nunique() == 7 and frame["留言详情"].str.contains("\t").any()


def test_every_shared_file_is_covered() -> None:
    root = shared_dataset("README.md").parent
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != "README.md"}
    covered = {relative for relative, *_ in DATASETS} | SLOW
    skab = {f for f in files if f.startswith("timeseries/skab-valve1/")}
    images = {f for f in files if f.startswith("vision/magnetic_tile/")}  # not tables: see the test below
    assert files - covered - skab - images == set()


# the magnetic-tile defect images (no table to read): class folders as the datasets README counts them
MAGNETIC_TILE = {"MT_Free": 774, "MT_Blowhole": 95, "MT_Uneven": 85, "MT_Break": 70, "MT_Crack": 47, "MT_Fray": 26}


def test_every_magnetic_tile_image_has_its_mask() -> None:
    root = shared_dataset("vision/magnetic_tile")
    for folder, count in MAGNETIC_TILE.items():
        images = sorted((root / folder).rglob("*.jpg"))
        assert len(images) == count, folder
        assert all(image.with_suffix(".png").is_file() for image in images), folder
    other = {p.suffix for p in root.rglob("*") if p.is_file()} - {".jpg", ".png"}
    assert other == set()


def test_every_skab_file_is_semicolon_separated() -> None:
    folder = shared_dataset("timeseries/skab-valve1")
    for path in sorted(folder.glob("*.csv")):
        frame = read_source(source(path))
        info = frame.attrs["source"]
        assert info["separator"] == ";" and {"datetime", "Pressure", "Temperature"} <= set(frame.columns), path.name
        if path.name != "anomaly-free.csv":
            assert frame["anomaly"].isin(["0", "1", "0.0", "1.0"]).all(), path.name


def test_medical_dialogue_is_chinese() -> None:
    frame = read_source(source(shared_dataset("qa/medical_dialogue_internal_gb18030.csv")))
    assert frame["department"].str.contains("科").any()


def test_review_polarity_labels() -> None:
    frame = read_source(source(shared_dataset("text-classification/review_polarity_en.tar.gz")))
    assert frame["label"].value_counts().to_dict() == {"neg": 1000, "pos": 1000}
    assert frame["path"].iloc[0] == "txt_sentoken/neg/cv000_29416.txt" and frame["format"].eq("txt").all()
    assert frame["text"].str.len().min() > 50 and frame.attrs["source"]["skipped"] == ["poldata.README.2.0"]


def test_nab_windows_keys_name_series() -> None:
    frame = read_source(source(shared_dataset("timeseries/nab/combined_windows.json")))
    known = frame[frame["key"].str.startswith("realKnownCause/")]
    assert set(known["key"]) >= {"realKnownCause/nyc_taxi.csv"} and known["value_1"].lt(known["value_2"]).all()


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
    dedupe = ctx.load("trace_deduplicate")["steps"][0]
    assert sum(dataset["rows"].values()) == 30_000 - dedupe["dropped"]
    assert dedupe["op"] == "dedupe.exact" and dedupe["dropped"] == 35
    assert len(dataset["features"]) == 23 and dataset["dropped"][0]["name"] == "ID"
