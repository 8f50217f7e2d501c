"""The data workshop's output for text orders: text features, extra columns, label sets, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mofang.core.errors import DataError
from mofang.data import DataWorkshop
from mofang.orders import parse_order
from tests.models.text_fixtures import news

ORDER = """
id: topics
tenant: media
task: text-classification
data:
  path: {path}
target: 类别
acceptance: none
{extra}
"""


def run_station(ctx) -> dict:
    station = DataWorkshop()
    for process in station.processes:
        getattr(station, process)(ctx)
    return ctx.load("dataset")


def _csv(tmp_path: Path, multi_label: bool = False) -> Path:
    frame = news(300, seed=7, multi_label=multi_label)
    rng = np.random.default_rng(0)
    frame["来源"] = rng.choice(["网站", "客户端", "微博"], len(frame))
    frame["备注"] = [f"编辑 {i} 号的补充说明：这条新闻来自第 {i % 13} 版面，请核对。" for i in range(len(frame))]
    path = tmp_path / "news.csv"
    frame.to_csv(path, index=False)
    return path


def test_text_columns_become_features_with_other_columns(tmp_path, make_ctx) -> None:
    ctx = make_ctx(parse_order(ORDER.format(path=_csv(tmp_path), extra="text: 标题")), station="data")
    dataset = run_station(ctx)
    kinds = {f["name"]: f["kind"] for f in dataset["features"]}
    assert kinds == {"标题": "text", "来源": "categorical"}
    dropped = {d["name"]: d["reason"] for d in dataset["dropped"]}
    assert "not named in the order's 'text'" in dropped["备注"]
    assert dataset["classes"] == ["体育", "娱乐", "科技", "财经"] and "multi_label" not in dataset


def test_without_text_every_free_text_column_is_read(tmp_path, make_ctx) -> None:
    ctx = make_ctx(parse_order(ORDER.format(path=_csv(tmp_path), extra="")), station="data")
    kinds = {f["name"]: f["kind"] for f in run_station(ctx)["features"]}
    assert kinds["标题"] == kinds["备注"] == "text"


def test_multi_label_classes_are_the_single_labels(tmp_path, make_ctx) -> None:
    order = ORDER.format(path=_csv(tmp_path, multi_label=True), extra="text: 标题\nmulti_label: true")
    ctx = make_ctx(parse_order(order), station="data")
    dataset = run_station(ctx)
    assert dataset["classes"] == ["体育", "娱乐", "科技", "财经"]
    assert dataset["multi_label"] is True and dataset["label_separator"] == "|"
    assert any("|" in value for value in ctx.load("train")["类别"])


def test_a_text_column_that_is_not_there_is_named(tmp_path, make_ctx) -> None:
    ctx = make_ctx(parse_order(ORDER.format(path=_csv(tmp_path), extra="text: 正文")), station="data")
    with pytest.raises(DataError, match="text column '正文'.*not in the data"):
        run_station(ctx)
