"""Labeling an order's own data: export its unlabelled rows, import people's labels, merge them at ingest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mofang.cli.label import label_app
from mofang.core.errors import DataError
from mofang.data.sources import read_granted
from mofang.models.active import LabelingQueue
from mofang.orders import load_order
from tests.models.text_fixtures import news

ORDER = """\
id: news-few-labels
tenant: media
task: text-classification
data:
  - path: news.csv
target: 类别
text: 标题
id_column: 编号
labels: labels.csv
acceptance: none
"""


@pytest.fixture()
def order_file(tmp_path: Path) -> Path:
    frame = news(120, seed=2)
    frame.insert(0, "编号", [f"N{i:03d}" for i in range(len(frame))])
    frame.loc[frame.index[80:], "类别"] = None
    frame.to_csv(tmp_path / "news.csv", index=False, encoding="gbk")
    (tmp_path / "order.yaml").write_text(ORDER, encoding="utf-8")
    return tmp_path / "order.yaml"


def test_export_then_import_over_an_orders_data_feeds_its_next_run(order_file: Path, home) -> None:
    runner = CliRunner()
    queue_csv, labels_csv = order_file.parent / "queue.csv", order_file.parent / "labels.csv"
    result = runner.invoke(label_app, ["export", str(order_file), "-k", "10", "--out", str(queue_csv)])
    assert result.exit_code == 0, result.output
    assert "10 of 40 unlabeled rows" in result.output and "trained on 80 labels" in result.output
    queue = pd.read_csv(queue_csv, dtype=str, encoding="utf-8-sig")
    assert set(queue.id) <= {f"N{i:03d}" for i in range(80, 120)}
    assert set(queue.suggestion) <= {"体育", "娱乐", "科技", "财经"}
    queue["label"] = queue["suggestion"]  # people accept the suggestions
    queue.to_csv(queue_csv, index=False, encoding="utf-8-sig")
    result = runner.invoke(label_app, ["import", str(queue_csv), "--source", str(order_file)])
    assert result.exit_code == 0, result.output
    assert "10 labels added" in result.output
    given = LabelingQueue.read_labels(labels_csv)
    assert set(given) == set(queue.id)  # only what people gave: the data's own labels stay in the data

    order = load_order(order_file)
    data, reads = read_granted(order)
    assert data["类别"].notna().sum() == 90
    merged = reads[-1]
    assert merged.format == "labels" and merged.labels["filled"] == 10 and merged.labels["kept"] == 0


def test_a_labels_file_never_overrides_the_data_and_must_match_its_ids(order_file: Path) -> None:
    labels_csv = order_file.parent / "labels.csv"
    pd.DataFrame({"id": ["N000", "N100"], "label": ["不是这个", "体育"]}).to_csv(labels_csv, index=False)
    order = load_order(order_file)
    data, reads = read_granted(order)
    assert data.loc[0, "类别"] != "不是这个" and data.loc[100, "类别"] == "体育"
    assert reads[-1].labels == {**reads[-1].labels, "filled": 1, "kept": 1}
    pd.DataFrame({"id": ["N999"], "label": ["体育"]}).to_csv(labels_csv, index=False)
    with pytest.raises(DataError, match="ids the data does not have: N999; ids are matched on column '编号'"):
        read_granted(order)
    labels_csv.unlink()
    with pytest.raises(DataError, match="labels file does not exist"):
        read_granted(order)


def test_labels_belong_to_classification_orders(tmp_path: Path) -> None:
    from mofang.core.errors import OrderError

    text = ORDER.replace("task: text-classification", "task: retrieval-qa")
    (tmp_path / "o.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(OrderError, match="'labels' applies to classification orders"):
        load_order(tmp_path / "o.yaml")
