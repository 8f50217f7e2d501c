"""The DataWorkshop station end to end: every process in order, its artifacts and the dataset card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mofang.core.errors import DataError
from mofang.data import DataWorkshop
from mofang.data.leakage import leak_score
from mofang.orders import parse_order
from tests.data.helpers import loans_table, order_for

ORDER = """
id: loans-2023
tenant: acme
task: tabular-classification
data:
  path: {path}
target: default
id_column: 客户编号
columns:
  deny: [手机号]
acceptance: none
seed: 7
"""


def run_station(ctx) -> dict[str, str]:
    station = DataWorkshop()
    return {process: getattr(station, process)(ctx) for process in station.processes}


@pytest.fixture()
def loans_csv(tmp_path: Path) -> Path:
    path = tmp_path / "loans.csv"
    path.write_bytes(loans_table().to_csv(index=False).encode("gbk"))
    return path


def test_full_run_on_a_messy_gbk_table(loans_csv: Path, make_ctx) -> None:
    ctx = make_ctx(parse_order(ORDER.format(path=loans_csv)), station="data")
    summaries = run_station(ctx)
    assert "403 rows × 11 columns from loans.csv (GBK)" == summaries["ingest"]

    raw = ctx.load("raw")
    assert "手机号" not in raw.columns  # denied: never read into an artifact
    profile = ctx.load("profile")["columns"]
    assert profile["月收入"]["kind"] == "numeric" and profile["申请日期"]["kind"] == "datetime"
    assert profile["期限"]["kind"] == "numeric" and profile["有房"]["kind"] == "boolean"
    assert profile["身份证号"] == {**profile["身份证号"], "kind": "identifier", "pii": "id_card"}
    desensitized = ctx.load("table_desensitize")
    assert desensitized["身份证号"].str.fullmatch(r"ID_[0-9a-f]{12}").all()
    before = ctx.load("table_deduplicate")  # bare city names are not hidden by city-level generalization
    changed = ctx.load("trace_desensitize")["steps"][0]["changed"]
    assert desensitized["城市"].equals(before["城市"]) and "城市" not in changed and changed["身份证号"] == 399

    clean = ctx.load("table_clean")
    assert len(clean) == 402 and set(clean["default"]) == {"是", "否"}
    assert clean["月收入"].dtype == "float64" and clean["申请日期"].dtype == "datetime64[ns]"
    dedupe = ctx.load("trace_deduplicate")["steps"][0]
    assert dedupe["op"] == "dedupe.exact" and [r["row"] for r in dedupe["dropped_rows"]] == ["C100010", "C100011",
                                                                                            "C100012"]

    features = ctx.load("features")
    kept = {f["name"]: f["kind"] for f in features["features"]}
    why = {d["name"]: d["reason"] for d in features["dropped"]}
    assert set(kept) == {"月收入", "期限", "城市", "申请日期", "有房"}
    assert "id column" in why["客户编号"]
    assert why["身份证号"] == "PII (Chinese ID card numbers, 100% of values)"
    assert "person names" in why["客户姓名"]
    assert why["渠道"].startswith("constant")
    assert "target leakage" in why["催收次数"] and "催收次数" not in kept

    dataset = ctx.load("dataset")
    assert set(dataset) == {"digest", "path", "task", "target", "id_column", "features", "classes", "rows",
                            "dropped"}
    assert dataset["classes"] == ["否", "是"] and dataset["id_column"] == "客户编号"
    assert sum(dataset["rows"].values()) == 402 - dedupe["dropped"]
    train, test = ctx.load("train"), ctx.load("test")
    assert list(train.columns) == ["客户编号", *kept, "default"]
    assert train["申请日期"].dtype == "datetime64[ns]" and train["有房"].dtype == "float64"
    folder = Path(dataset["path"])
    assert {p.name for p in folder.iterdir()} == {"train.parquet", "valid.parquet", "test.parquet",
                                                  "data_card.json", "data_card.html"}
    card = json.loads(ctx.vault.read("acme", folder / "data_card.json"))  # stored encrypted
    assert card["pii"]["columns_dropped_from_features"][0]["column"] in {"客户姓名", "身份证号"}
    assert [p["process"] for p in card["processes"]][:3] == ["normalize", "clean", "deduplicate"]
    assert card["rows_dropped"][0]["count"] == 1 and card["lineage"]["sources"][0]["encoding"] == "GBK"
    assert ctx.load("data_card")["lineage"]["dataset_digest"] == dataset["digest"]
    assert abs(len(test) / 402 - 0.15) < 0.02


def test_runs_under_the_line_runner(loans_csv: Path, make_ctx, meta) -> None:
    from mofang.line.runner import _run_station
    from mofang.station import SilentProgress
    from mofang.store.models import ProcessRun

    ctx = make_ctx(parse_order(ORDER.format(path=loans_csv)), station="data")
    _run_station(DataWorkshop(), ctx, meta, SilentProgress())
    with meta.session() as s:
        runs = {r.name: r for r in s.query(ProcessRun).all()}
        assert [runs[p].status for p in DataWorkshop.processes] == ["done"] * 12
        assert any("身份证号: PII" in r for r in runs["validate"].reasons)
        assert runs["ingest"].params["sources"][0]["encoding"] == "GBK"


def test_duplicates_removed_and_processes_resume_from_artifacts(loans_csv: Path, make_ctx) -> None:
    order = order_for(loans_csv, seed=3)  # no id column: the copied rows are exact duplicates
    ctx = make_ctx(order, station="data")
    station = DataWorkshop()
    cut = station.processes.index("deduplicate") + 1
    for process in station.processes[:cut]:
        getattr(station, process)(ctx)
    dedupe = ctx.load("trace_deduplicate")["steps"][0]
    assert dedupe["dropped"] == 3 and [r["row"] for r in dedupe["dropped_rows"]] == [401, 402, 403]
    resumed = DataWorkshop()  # a new process after a crash: nothing but the saved artifacts
    for process in station.processes[cut:]:
        getattr(resumed, process)(ctx)
    first = ctx.load("dataset")
    assert sum(first["rows"].values()) == 399 and first["rows"]["valid"] == 60
    ctx2 = make_ctx(order, station="data")
    run_station(ctx2)
    assert ctx2.load("dataset")["digest"] == first["digest"]  # same order, same data: same version


def test_regression_target(tmp_path: Path, make_ctx) -> None:
    rng = np.random.default_rng(1)
    n = 200
    x = rng.normal(size=n)
    price = 1000 + 300 * x + rng.normal(0, 200, n)
    frame = pd.DataFrame({"x": x.round(3), "g": rng.choice(list("abc"), n),
                          "price": [f"{v:,.2f}元" for v in price], "price_with_tax": (price * 1.13).round(1)})
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    ctx = make_ctx(order_for(path, target="price", task="tabular-regression"))
    run_station(ctx)
    dataset = ctx.load("dataset")
    assert dataset["classes"] is None and dataset["task"] == "tabular-regression"
    assert ctx.load("train")["price"].dtype == "float64"
    assert {f["name"] for f in dataset["features"]} == {"x", "g"}
    assert "|Spearman|" in dataset["dropped"][0]["reason"]


def test_too_few_rows(tmp_path: Path, make_ctx) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text("x,y\n" + "".join(f"{(i * 7) % 5}.5,{i % 2}\n" for i in range(20)), encoding="utf-8")
    ctx = make_ctx(order_for(path, target="y"))
    with pytest.raises(DataError, match="at least 30"):
        run_station(ctx)


def test_rare_class_kept_in_train(tmp_path: Path, make_ctx) -> None:
    rng = np.random.default_rng(2)
    y = ["a"] * 40 + ["b"] * 40 + ["c"] * 2
    path = tmp_path / "rare.csv"
    pd.DataFrame({"x": rng.normal(size=82).round(3), "y": y}).to_csv(path, index=False)
    ctx = make_ctx(order_for(path, target="y"))
    run_station(ctx)
    assert (ctx.load("train")["y"] == "c").sum() == 2
    assert ctx.load("split_trace")["rare_classes"] == {"c": 2}


def test_leak_scores() -> None:
    rng = np.random.default_rng(0)
    y = pd.Series(rng.choice(["0", "1"], 1000, p=[0.7, 0.3]))
    noise = pd.Series(rng.normal(size=1000))
    assert leak_score(noise, "numeric", y, True)[0] < 0.6
    leak = pd.Series(np.where(y == "1", 10.0, 0.0) + rng.normal(0, 0.1, 1000))
    assert leak_score(leak, "numeric", y, True) == (pytest.approx(1.0), "ROC-AUC")
    coded = y.map({"0": "paid", "1": "written off"})
    assert leak_score(coded, "categorical", y, True)[0] == pytest.approx(1.0)
    assert leak_score(pd.Series(rng.choice(list("abcd"), 1000)), "categorical", y, True)[0] < 0.1


def test_numeric_ids_named_as_ids_are_not_features(tmp_path: Path, make_ctx) -> None:
    rng = np.random.default_rng(2)
    n = 300
    frame = pd.DataFrame({"CustomerId": rng.permutation(np.arange(15_600_000, 15_600_000 + n)),
                          "Paid": rng.integers(0, 5000, n), "x": rng.normal(size=n).round(3),
                          "y": rng.choice(["a", "b"], n)})
    path = tmp_path / "ids.csv"
    frame.to_csv(path, index=False)
    ctx = make_ctx(order_for(path, target="y"))
    run_station(ctx)
    dataset = ctx.load("dataset")
    assert {f["name"] for f in dataset["features"]} == {"Paid", "x"}
    assert "an id by its header" in {d["name"]: d["reason"] for d in dataset["dropped"]}["CustomerId"]


def test_synthetic_rows_only_join_train_and_held_out_parts_stay_the_same(tmp_path: Path, make_ctx) -> None:
    rng = np.random.default_rng(5)
    n = 400
    y = np.where(rng.random(n) < 0.1, "bad", "good")
    frame = pd.DataFrame({"income": (rng.normal(5000, 800, n) + (y == "bad") * -1500).round(1),
                          "city": rng.choice(["北京", "上海", "广州"], n), "y": y})
    path = tmp_path / "imbalanced.csv"
    frame.to_csv(path, index=False)
    plain = make_ctx(order_for(path, target="y"))
    run_station(plain)
    order = order_for(path, target="y")
    order.recipe = {"add": [{"op": "augment.smote", "params": {"target_ratio": 0.6}}]}
    augmented = make_ctx(order)
    run_station(augmented)
    trace = augmented.load("split_trace")["synthetic"]
    assert trace["added_to_train"] > 100 and trace["dropped_parent_held_out"] > 0
    for part in ("valid", "test"):  # the same real rows are held out, and nothing synthetic joins them
        pd.testing.assert_frame_equal(plain.load(part), augmented.load(part))
    train = augmented.load("train")
    assert len(train) == len(plain.load("train")) + trace["added_to_train"]
    assert (train["y"] == "bad").mean() > 0.3
    card = augmented.load("data_card")
    assert card["augment"][0]["op"] == "augment.smote" and card["augment"][0]["rows_added"] > 100


def test_split_reports_held_out_rows_that_copy_training_rows(tmp_path: Path, make_ctx) -> None:
    rng = np.random.default_rng(6)
    n = 300
    frame = pd.DataFrame({"grade": rng.choice(list("AB"), n), "term": rng.choice([12, 24], n),
                          "y": rng.choice(["0", "1"], n)})
    path = tmp_path / "coarse.csv"
    frame.to_csv(path, index=False)
    order = order_for(path, target="y")
    order.recipe = {"remove": ["dedupe.exact"]}  # keep repeated rows: only 4 distinct feature rows exist
    ctx = make_ctx(order)
    run_station(ctx)
    leakage = ctx.load("split_trace")["leakage"]
    assert leakage["test"]["same_features"] == len(ctx.load("test"))
    assert leakage["test"]["near_text_removed"] == 0


def test_folded_spellings_travel_with_the_features_to_serving(tmp_path: Path, make_ctx) -> None:
    from mofang.models.features import FeaturePipeline

    rng = np.random.default_rng(8)
    n = 200
    city = rng.choice(["Beijing", "Shanghai"], n).astype(object)
    city[:6] = ["beijing", "BEIJING", "Shanghia", "shanghai", "Bei jing", "Shanghia"]
    frame = pd.DataFrame({"city": city, "x": rng.normal(size=n).round(3), "y": rng.choice(["a", "b"], n)})
    path = tmp_path / "cities.csv"
    frame.to_csv(path, index=False)
    ctx = make_ctx(order_for(path, target="y"))
    run_station(ctx)
    feature = next(f for f in ctx.load("dataset")["features"] if f["name"] == "city")
    assert feature["aliases"]["Shanghia"] == "Shanghai" and feature["aliases"]["beijing"] == "Beijing"
    pipeline = FeaturePipeline([feature], "tree").fit(ctx.load("train"))
    served = pd.DataFrame({"city": ["Shanghia", "Shanghai", "BEIJING", "Beijing"]})
    codes = pipeline.transform(served)[:, 0]  # one row at a time and as a frame: the same codes
    assert codes[0] == codes[1] and codes[2] == codes[3] and codes[0] != codes[2]
    assert (pipeline.transform(pd.concat([served] * 10, ignore_index=True))[:4, 0] == codes).all()
