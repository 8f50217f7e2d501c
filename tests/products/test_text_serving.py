"""A multi-label text bundle answers label lists over HTTP; long or structured text values get a 422."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from mofang.integration.bundle import MAX_TEXT_CHARS, load_bundle
from mofang.integration.station import input_schema
from mofang.models.registry import get_trainer
from mofang.products.serving import create_app
from tests.models.text_fixtures import dataset, splits


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    train, valid, _ = splits(500, seed=4, multi_label=True)
    data = dataset(train, multi_label=True)
    data["dropped"] = []
    candidate, _ = get_trainer("text-classification", "tfidf-linear").fit(train, valid, data, 2.0)
    folder = tmp_path_factory.mktemp("bundle")
    candidate.save(folder / "model.joblib")
    (folder / "schema.json").write_text(json.dumps(input_schema(data), ensure_ascii=False), "utf-8")
    metadata = {"product": "topics", "task": "text-classification", "target": "类别", "family": "tfidf-linear",
                "order_id": "topics"}
    (folder / "metadata.json").write_text(json.dumps(metadata, ensure_ascii=False), "utf-8")
    return TestClient(create_app(load_bundle(folder), version=1))


def test_multi_label_rows_get_label_lists(client) -> None:
    answer = client.post("/predict", json={"rows": [
        {"标题": "球队决赛夺冠，票房和演唱会也很火"}, {"标题": "芯片"}, {"标题": None}]}).json()
    first, second, third = answer["predictions"]
    assert set(first) >= {"体育"} and isinstance(second, list) and second == ["科技"]
    assert isinstance(third, list) and len(third) >= 1  # no text: the most probable label by prior
    assert set(answer["probabilities"][0]) == {"体育", "娱乐", "科技", "财经"}


def test_bad_text_values_are_a_422_naming_the_field(client) -> None:
    nested = client.post("/predict", json={"rows": [{"标题": ["a", "b"]}]})
    assert nested.status_code == 422 and "标题" in nested.text
    long = client.post("/predict", json={"rows": [{"标题": "好" * (MAX_TEXT_CHARS + 1)}]})
    assert long.status_code == 422 and "longer than" in long.text
