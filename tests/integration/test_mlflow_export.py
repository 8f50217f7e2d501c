"""The MLflow export of a text and a retrieval product: loaded with mlflow.pyfunc, answering like the bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mofang.core.errors import MofangError
from mofang.integration.bundle import load_bundle
from mofang.integration.mlflow_export import export_mlflow
from mofang.models.registry import get_trainer
from tests.models import text_fixtures

mlflow = pytest.importorskip("mlflow.pyfunc", reason="the MLflow export test needs mlflow-skinny (the test extra)")


def _folder(tmp_path: Path, model, schema: dict, meta: dict) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    model.save(folder / "model.joblib")
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False), "utf-8")
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    (folder / "edge.tar.gz").write_bytes(b"not needed by MLflow")
    return folder


def test_a_text_product_as_an_mlflow_model(tmp_path) -> None:
    train, valid, test = text_fixtures.splits(300)
    dataset = text_fixtures.dataset(train)
    candidate, _ = get_trainer("text-classification", "tfidf-linear").fit(train, valid, dataset, budget_s=2)
    schema = {"task": "text-classification", "target": "类别", "features": dataset["features"],
              "classes": dataset["classes"], "ignored": []}
    folder = _folder(tmp_path, candidate, schema, {"product": "news", "family": "tfidf-linear"})
    out = export_mlflow(lambda p: p.read_bytes(), sorted(folder.iterdir()), tmp_path / "mlflow")
    assert not (out / "artifacts" / "bundle" / "edge.tar.gz").exists()
    model = mlflow.load_model(str(out))
    assert model.metadata.get_input_schema().input_names() == ["标题"]
    rows = test[["标题"]].head(12)
    answer = model.predict(rows)
    expected = load_bundle(folder).predict_records(rows.to_dict(orient="records"))
    assert answer["prediction"].tolist() == expected["predictions"]
    first = {c: answer[f"probability_{c}"].iloc[0] for c in dataset["classes"]}
    assert first == pytest.approx(expected["probabilities"][0], abs=1e-6)
    with pytest.raises(MofangError, match="not empty"):
        export_mlflow(lambda p: p.read_bytes(), sorted(folder.iterdir()), out)


def test_a_retrieval_product_answers_questions_with_sources(tmp_path) -> None:
    from mofang.tasks.retrieval.models import QAColumns, RetrievalModel
    from tests.tasks.retrieval.models.retrieval_fixtures import faq_frame

    columns = QAColumns(questions=("问题",), answer="答案", query="问法", sources=("部门",))
    model = RetrievalModel.from_pairs(faq_frame(), columns)
    schema = {"task": "retrieval-qa", "target": "答案", "features": [], "question": "问题", "sources": ["部门"]}
    folder = _folder(tmp_path, model, schema, {"product": "faq", "family": model.family})
    loaded = mlflow.load_model(str(export_mlflow(lambda p: p.read_bytes(), sorted(folder.iterdir()),
                                                 tmp_path / "mlflow")))
    answer = loaded.predict(pd.DataFrame({"question": ["信用卡丢了怎么挂失"]}))
    assert answer["answer"].iloc[0].startswith("请立即拨打客服热线挂失信用卡")
    assert json.loads(answer["source"].iloc[0])["部门"] == "信用卡" and not answer["no_answer"].iloc[0]
