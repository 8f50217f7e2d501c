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
    steps: list[tuple[int, int, str]] = []
    out = export_mlflow(lambda p: p.read_bytes(), sorted(folder.iterdir()), tmp_path / "mlflow",
                        on_step=lambda *step: steps.append(step))
    assert [done for done, _total, _note in steps] == list(range(7)) and {t for _d, t, _n in steps} == {6}
    assert steps[0][2] == "decrypting metadata.json" and steps[-1][2] == "MLflow model written"
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


LOAD = """\
import json, sys
import mlflow.pyfunc
import pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = pd.read_json(sys.argv[2], orient="records", dtype=False)
print(json.dumps(model.predict(rows).to_dict(orient="list"), ensure_ascii=False))
"""


@pytest.mark.slow
def test_the_export_installs_and_predicts_in_a_clean_venv_from_its_requirements_alone(tmp_path) -> None:
    """A LightGBM product exported, its requirements.txt installed into a new venv (no Mofang, no system site
    packages: about 70 s from the local package index), loaded with mlflow.pyfunc there: the same answers."""
    import subprocess
    import sys

    from mofang.integration.edge import records_of
    from tests.integration.conftest import bare_env
    from tests.models.tabular_fixtures import classification_data

    data = classification_data(n=400, n_classes=3)
    candidate, _ = get_trainer("tabular-classification", "lightgbm").fit(data["train"], data["valid"],
                                                                         data["dataset"], budget_s=3)
    schema = {"task": "tabular-classification", "target": "label", "features": data["dataset"]["features"],
              "classes": data["dataset"]["classes"], "ignored": []}
    folder = _folder(tmp_path, candidate, schema, {"product": "churn", "family": "lightgbm"})
    out = export_mlflow(lambda p: p.read_bytes(), sorted(folder.iterdir()), tmp_path / "mlflow")
    requirements = (out / "requirements.txt").read_text("utf-8").split()
    assert not any(r.lower().startswith("mofang") for r in requirements), requirements
    assert all("==" in r for r in requirements) and any(r.startswith("lightgbm==") for r in requirements)
    assert (out / "code" / "mofang" / "integration" / "mlflow_export.py").is_file()
    assert "mofang.tasks" in (out / "code" / "mofang-0.1.0.dist-info" / "entry_points.txt").read_text("utf-8")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                                "--disable-pip-version-check", "-r", str(out / "requirements.txt")],
                               capture_output=True, text=True, timeout=900)
    if installed.returncode != 0:
        pytest.skip(f"cannot install the requirements from this machine's package index: {installed.stderr[-800:]}")
    assert subprocess.run([str(python), "-c", "import mofang"], capture_output=True, env=bare_env(),
                          cwd=tmp_path).returncode != 0  # the clean venv has no Mofang of its own
    rows = records_of(data["test"], [f["name"] for f in data["dataset"]["features"]])[:25]
    (tmp_path / "rows.json").write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
    (tmp_path / "load.py").write_text(LOAD, "utf-8")
    ran = subprocess.run([str(python), str(tmp_path / "load.py"), str(out), str(tmp_path / "rows.json")],
                         capture_output=True, text=True, env=bare_env(), cwd=tmp_path, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    answer = json.loads(ran.stdout.strip().splitlines()[-1])
    expected = load_bundle(folder).predict_records(rows)
    assert answer["prediction"] == expected["predictions"]
    for i, probabilities in enumerate(expected["probabilities"]):
        assert {c: answer[f"probability_{c}"][i] for c in probabilities} == pytest.approx(probabilities, abs=1e-6)
