"""MLflow export: a product bundle as an MLflow pyfunc model directory (MLmodel, signature, input example),
so teams on MLflow can `mlflow models serve` or register it. Needs `mlflow-skinny` (or `mlflow`).

The model is self-contained: Mofang's code travels in its `code/` folder and its requirements name only public
packages, pinned (`mofang.integration.mlflow_requirements`), so it installs in a clean environment."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from mofang.core.errors import MofangError
from mofang.integration.bundle import answers_questions, load_bundle
from mofang.integration.mlflow_requirements import code_paths, pinned_requirements

SKIPPED_FILES = ("edge.tar.gz",)  # the edge archive is exported on its own (--edge)
_COLUMN_TYPES = {"numeric": "double", "boolean": "double"}  # booleans as 1.0 / 0.0 (NaN: missing)


try:  # optional: only the export and the loaded model need it
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - without mlflow, export_mlflow explains what to install
    PythonModel = object  # type: ignore[misc,assignment]


class MofangPyfunc(PythonModel):  # type: ignore[misc,valid-type]
    """Mofang's served Bundle behind MLflow's pyfunc interface (the bundle is the model's artifact)."""

    def load_context(self, context: Any) -> None:
        self.bundle = load_bundle(context.artifacts["bundle"])

    def predict(self, context, model_input, params=None):  # untyped: MLflow reads hints as a signature
        """Rows (a DataFrame or a list of dicts) → a DataFrame: `prediction` and, for classifiers, one
        `probability_<class>` column per class; for a retrieval product, the best answer to each `question`."""
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(list(model_input))
        if self.bundle.is_retrieval:
            k = int((params or {}).get("k", 5))
            answers = [self.bundle.ask(str(q), k) for q in frame["question"]]
            return pd.DataFrame({
                "answer": [a["answers"][0]["answer"] if a["answers"] else None for a in answers],
                "source": [json.dumps(a["answers"][0]["source"], ensure_ascii=False) if a["answers"] else None
                           for a in answers],
                "no_answer": [a["no_answer"] for a in answers]})
        records = [{k: (None if _missing(v) else v) for k, v in row.items()}
                   for row in frame.to_dict(orient="records")]
        answer = self.bundle.predict_records(records)
        out = pd.DataFrame({"prediction": answer["predictions"]})
        for column in (answer.get("probabilities") or [{}])[0]:
            out[f"probability_{column}"] = [p[column] for p in answer["probabilities"]]
        return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def signature_and_example(schema: dict[str, Any], candidate: Any) -> tuple[Any, pd.DataFrame]:
    """The MLflow input signature from the product's input schema, and a one-row input example."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    if answers_questions(candidate):  # a knowledge base: asked one question per row
        return ModelSignature(inputs=Schema([ColSpec("string", "question")])), pd.DataFrame(
            {"question": ["How do I reset my password?"]})
    columns: list[Any] = []
    example: dict[str, Any] = {}
    categories = getattr(getattr(candidate, "pipeline_", None), "categories_", {}) or {}
    for feature in schema["features"]:
        name, kind = feature["name"], feature["kind"]
        columns.append(ColSpec(_COLUMN_TYPES.get(kind, "string"), name, required=False))
        example[name] = {"numeric": 0.0, "boolean": 1.0, "datetime": "2024-01-01"}.get(
            kind, (categories.get(name) or ["example"])[0])
    return ModelSignature(inputs=Schema(columns)), pd.DataFrame([example])


def export_mlflow(read: Any, files: list[Path], out: Path,
                  on_step: Callable[[int, int, str], None] | None = None) -> Path:
    """Write the MLflow model directory `out` from a bundle's files; `read(path)` gives a file's plaintext
    (the vault's reader for a delivered, encrypted bundle). `on_step(done, total, note)` hears each step as it
    starts (each bundle file decrypted, the bundle loaded, its requirements pinned, the model written) and
    the end."""
    step = on_step or (lambda _done, _total, _note: None)
    try:
        import mlflow.pyfunc
    except ImportError:
        raise MofangError("the MLflow export needs mlflow: pip install mlflow-skinny") from None

    if out.exists() and any(out.iterdir()):
        raise MofangError(f"{out} exists and is not empty; choose a new folder for the MLflow model")
    wanted = [path for path in files if path.name not in SKIPPED_FILES and path.is_file()]
    total = len(wanted) + 3
    with tempfile.TemporaryDirectory(prefix="mofang-mlflow-") as tmp:
        plain = Path(tmp) / "bundle"
        plain.mkdir()
        for done, path in enumerate(wanted):
            step(done, total, f"decrypting {path.name}")
            (plain / path.name).write_bytes(read(path))
        step(len(wanted), total, "loading the bundle")
        bundle = load_bundle(plain)
        signature, example = signature_and_example(bundle.schema, bundle.candidate)
        step(len(wanted) + 1, total, "pinning its requirements")
        requirements = pinned_requirements(plain, example.to_dict(orient="records"))
        step(len(wanted) + 2, total, "writing the MLflow model")
        code = Path(tmp) / "code"
        code.mkdir()
        if out.exists():
            shutil.rmtree(out)
        mlflow.pyfunc.save_model(path=str(out), python_model=MofangPyfunc(), artifacts={"bundle": str(plain)},
                                 signature=signature, input_example=example, code_paths=code_paths(code),
                                 pip_requirements=requirements,
                                 metadata={"mofang_product": bundle.metadata.get("product"),
                                           "mofang_family": bundle.metadata.get("family")})
    step(total, total, "MLflow model written")
    return out
