"""Orders run down the line get a signed edge bundle: exported for the customer, verified, and run in a fresh
venv with only onnxruntime + numpy, answering like the served product; the same products as MLflow models
and as agent tools."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from types import SimpleNamespace

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.demo import write_demo
from mofang.products.server import running_server
from tests.integration.conftest import bare_env
from tests.models.text_fixtures import news

TEXT_ORDER = """\
id: news-topics
tenant: demo-bank
task: text-classification
data:
  - path: news.csv
target: 类别
text: 标题
acceptance:
  metrics:
    f1_macro: ">= 0.8"
deployment:
  target: edge
budget:
  minutes: 0.3
"""


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    """Two delivered products in one MOFANG_HOME: the demo loan book (tabular, deployment target edge) and Chinese
    news topics (text, deployment target edge: int8). Yields (meta, {product: raw rows as a client sends them})."""
    from mofang.store import MetaStore

    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("MOFANG_HOME")
    os.environ["MOFANG_HOME"] = str(home / "mofang")
    work = tmp_path_factory.mktemp("orders")
    demo = write_demo(work / "demo", rows=2500, minutes=0.4)
    # delivered to the edge: single models of the families with an ONNX export (a cloud order's winner may be a
    # bag or an ensemble, which ships as its joblib model)
    demo.write_text(demo.read_text(encoding="utf-8").replace("target: cloud", "target: edge"), encoding="utf-8")
    frame = news(700, seed=5)
    frame.to_csv(work / "news.csv", index=False, encoding="utf-8")
    (work / "news.yaml").write_text(TEXT_ORDER, encoding="utf-8")
    runner = CliRunner()
    for order in (demo, work / "news.yaml"):
        result = runner.invoke(app, ["run", str(order)])
        assert result.exit_code == 0, result.output
    loans = pd.read_csv(demo.parent / "loan_book_gbk.csv", encoding="gbk", dtype=str, keep_default_na=False)
    rows = {"loan-default-demo": loans.drop(columns=["客户备注"]).tail(60).to_dict(orient="records"),
            "news-topics": news(40, seed=99).drop(columns=["类别"]).to_dict(orient="records")}
    meta = MetaStore()
    yield meta, rows
    meta.dispose()
    if old is None:
        os.environ.pop("MOFANG_HOME", None)
    else:
        os.environ["MOFANG_HOME"] = old


def _served(meta, product: str, rows: list[dict]) -> dict:
    with running_server(meta.product_version(product)) as url:
        return httpx.post(f"{url}/predict", json={"rows": rows}, timeout=60).json()


def _same_answers(edge: list[dict], served: dict) -> None:
    assert [a["prediction"] for a in edge] == served["predictions"]
    for mine, theirs in zip(edge, served["probabilities"], strict=True):
        assert mine["probabilities"].keys() == theirs.keys()
        assert max(abs(mine["probabilities"][c] - theirs[c]) for c in theirs) <= 0.02


@pytest.mark.slow
@pytest.mark.parametrize("product, family", [("loan-default-demo", {"lightgbm", "linear"}),
                                             ("news-topics", {"tfidf-linear"})])
def test_the_edge_bundle_runs_in_a_fresh_venv_like_the_served_product(factory, edge_python, tmp_path, product,
                                                                      family) -> None:
    meta, rows = factory
    version = meta.product_version(product)
    assert version.model_family in family, version.model_family
    job = meta.job(version.job_id)
    archive = tmp_path / f"{product}.tar.gz"
    exported = CliRunner().invoke(app, ["products", "export", product, "--edge", "--out", str(archive)])
    assert exported.exit_code == 0, exported.output
    verified = CliRunner().invoke(app, ["bundle", "verify", str(archive)])
    assert verified.exit_code == 0 and "verified" in verified.output, verified.output
    public = archive.with_name(archive.name + ".factory.pem")  # for the customer, who has no factory key
    with_key = CliRunner().invoke(app, ["bundle", "verify", str(archive), "--public-key", str(public)])
    assert with_key.exit_code == 0, with_key.output
    folder = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    assert {"model.onnx", "preprocess.json", "mofang_edge_runner.py", "model_card.md", "MANIFEST.json",
            "MANIFEST.sig"} <= {p.name for p in folder.iterdir()}
    manifest = json.loads((folder / "MANIFEST.json").read_text("utf-8"))
    assert manifest["parity"]["labels_match"] and manifest["parity"]["rows"] > 50
    assert manifest["parity"]["quantized"] == (product == "news-topics")  # the edge-target order: int8
    assert job.outcome.get("verdict") == "accepted"

    source = tmp_path / "rows.json"
    source.write_text(json.dumps(rows[product], ensure_ascii=False), "utf-8")
    ran = subprocess.run([str(edge_python), str(folder / "mofang_edge_runner.py"), str(source), "--out",
                          str(tmp_path / "answers.json")], capture_output=True, env=bare_env(), text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    _same_answers(json.loads((tmp_path / "answers.json").read_text("utf-8")), _served(meta, product, rows[product]))

    if product == "news-topics":  # CSV in, JSON lines out
        csv_rows = tmp_path / "rows.csv"
        pd.DataFrame(rows[product]).to_csv(csv_rows, index=False, encoding="utf-8")
        lines = subprocess.run([str(edge_python), str(folder / "mofang_edge_runner.py"), str(csv_rows)],
                               capture_output=True, env=bare_env(), text=True, timeout=120,
                               check=True).stdout.splitlines()
        served = _served(meta, product, rows[product])["predictions"]
        assert [json.loads(line)["prediction"] for line in lines] == served


@pytest.mark.slow
def test_the_mlflow_export_loads_and_answers_like_the_served_product(factory, tmp_path) -> None:
    import mlflow.pyfunc

    meta, rows = factory
    out = tmp_path / "mlflow-model"
    result = CliRunner().invoke(app, ["products", "export", "loan-default-demo", "--mlflow", "--out", str(out)])
    assert result.exit_code == 0, result.output
    mlmodel = (out / "MLmodel").read_text("utf-8")
    assert "python_function" in mlmodel and "signature" in mlmodel and (out / "input_example.json").exists()
    model = mlflow.pyfunc.load_model(str(out))
    assert "年利率" in model.metadata.get_input_schema().input_names()  # the signature names the inputs
    sample = rows["loan-default-demo"][:20]
    names = model.metadata.get_input_schema().input_names()
    from mofang.integration.bundle import open_bundle

    version = meta.product_version("loan-default-demo")
    features = open_bundle(version.bundle_path, version.product.tenant_id, meta).schema["features"]
    answer = model.predict(_typed(pd.DataFrame([{n: r.get(n) for n in names} for r in sample]), features))
    served = _served(meta, "loan-default-demo", [{n: r.get(n) for n in names} for r in sample])
    assert answer["prediction"].tolist() == served["predictions"]
    assert not (tmp_path / "mlflow-model" / "artifacts" / "bundle" / "edge.tar.gz").exists()


def _typed(frame: pd.DataFrame, features: list[dict]) -> pd.DataFrame:
    """Rows typed as the MLflow signature declares (numbers as doubles: what an MLflow client sends)."""
    from mofang.models.features import coerce_value

    out = frame.copy()
    for feature in features:
        if feature["kind"] in ("numeric", "boolean"):
            out[feature["name"]] = [coerce_value(v, feature["kind"]) for v in frame[feature["name"]]]
    return out


@pytest.mark.slow
def test_every_product_publishes_its_agent_tool(factory) -> None:
    meta, _ = factory
    with running_server(meta.product_version("loan-default-demo")) as url:
        tool = httpx.get(f"{url}/tool", timeout=30).json()
    function = tool["openai"]["function"]
    assert function["name"] == "predict_loan-default-demo"
    assert tool["endpoint"] == {"method": "POST", "path": "/predict"}
    row = function["parameters"]["properties"]["rows"]["items"]
    assert row["properties"]["年利率"]["type"] == ["number", "null"] and row["additionalProperties"] is False
    assert tool["mcp"]["inputSchema"] == function["parameters"]
    assert set(tool["mcp"]["outputSchema"]["properties"]["predictions"]["items"]["enum"]) == {"是", "否"}


@pytest.mark.slow
@pytest.mark.parametrize("family", ["lightgbm", "linear"])
def test_a_tabular_edge_folder_runs_in_the_fresh_venv(edge_python, tmp_path, family) -> None:
    """Whatever family the demo order picks, both tabular families run without Mofang (categoricals,
    dates, booleans and missing values included)."""
    from mofang.integration.bundle import Bundle
    from mofang.integration.edge import records_of, write_edge_folder
    from mofang.models.registry import get_trainer
    from tests.models.tabular_fixtures import classification_data

    data = classification_data(n=600, n_classes=3)
    edge = SimpleNamespace(deployment=SimpleNamespace(target="edge"))  # an edge order: single models, not bags
    candidate, _ = get_trainer("tabular-classification", family).fit(data["train"], data["valid"], data["dataset"],
                                                                   budget_s=3, order=edge)
    schema = {"task": "tabular-classification", "features": data["dataset"]["features"], "ignored": []}
    bundle = Bundle(path=tmp_path, candidate=candidate, schema=schema, metadata={"product": "p"})
    write_edge_folder(candidate, schema, "# card", tmp_path / "edge", quantize=True)
    rows = records_of(data["test"], bundle.feature_names)
    (tmp_path / "rows.json").write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
    ran = subprocess.run([str(edge_python), str(tmp_path / "edge" / "mofang_edge_runner.py"),
                          str(tmp_path / "rows.json"), "--out", str(tmp_path / "answers.json")],
                         capture_output=True, env=bare_env(), text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    _same_answers(json.loads((tmp_path / "answers.json").read_text("utf-8")), bundle.predict_records(rows))
