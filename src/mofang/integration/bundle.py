"""The product bundle as the integration workshop writes it and every reader loads it: `model.joblib`,
`schema.json`, `metadata.json` and the drift reference, encrypted at rest (`open_bundle` decrypts in memory).

The server (mofang.products.serving), the edge and MLflow exports, the agent tool and the smoke test all read
bundles through `load_bundle`; the limits of one request to a product live here for the same readers.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from mofang.core.config import settings
from mofang.core.errors import MofangError
from mofang.core.tasks import TaskSpec
from mofang.core.tasks import spec as task_spec
from mofang.integration.rows import model_input  # a few rows skip pandas (served one-row latency)
from mofang.models.saved import SavedModel
from mofang.security.vault import open_vault
from mofang.store import MetaStore

REFERENCE_FILE = "reference.json"  # the drift reference (mofang.integration.reference)
MAX_ROWS = 10_000
MAX_TEXT_CHARS = 100_000  # one text field of a served row
MAX_QUESTION_CHARS = 2_000  # one question to a retrieval product
MAX_ANSWERS = 50  # the most answers one question may ask for (`k`)
KIND_APP = "serving.app"  # the task hook of a product kind that answers with routes of its own (not POST /predict)
KIND_LOAD = "serving.load"  # the task hook that loads a bundle whose model.joblib describes files beside it


@dataclass
class Bundle:
    """A loaded product bundle: the candidate, its input schema and its metadata."""

    path: Path
    candidate: Any
    schema: dict[str, Any]
    metadata: dict[str, Any]
    reference: dict[str, Any] | None = None  # the training reference for drift (reference.json), when packaged

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.schema["features"]]

    @property
    def spec(self) -> TaskSpec:
        """The registry's spec of the product's task (`schema["task"]`)."""
        return task_spec(self.schema["task"])

    @cached_property
    def is_classifier(self) -> bool:
        """The product answers in classes (labels with probabilities): its task's `classes` flag."""
        return self.spec.classes

    @property
    def is_retrieval(self) -> bool:
        """The product answers questions (POST /ask, a RAG knowledge base): its model can be asked."""
        return answers_questions(self.candidate)

    @property
    def answers_rows(self) -> bool:
        """The product answers rows at POST /predict (see `answers_rows`)."""
        return answers_rows(self.schema["task"])

    def ask(self, question: str, k: int = 5) -> dict[str, Any]:
        """A retrieval product's answers to one question (with sources and scores), or a no-answer result."""
        if not self.is_retrieval:
            raise MofangError(f"a {self.schema['task']} product answers rows (predict), not questions")
        return _plain_tree(self.candidate.ask(question, k))

    def predict_records(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Predict for raw JSON rows; missing fields are treated as missing values."""
        frame = model_input(records, self.feature_names, getattr(self.candidate, "pipeline_", None))
        if not self.is_classifier:
            return {"predictions": [_plain(v) for v in self.candidate.predict(frame)]}
        proba = self.candidate.predict_proba(frame)  # one transform for both answers
        classes = [str(c) for c in self.candidate.classes_]
        labels = self.candidate.labels(proba)
        if getattr(self.candidate, "is_multi_label", False):  # a list of labels per row
            predictions: list[Any] = [[str(c) for c in row] for row in labels]
        else:
            predictions = [str(c) for c in labels]
        return {"predictions": predictions,
                "probabilities": [{c: round(float(p), 6) for c, p in zip(classes, row, strict=True)}
                                  for row in proba]}


def load_bundle(path: str | Path, read: Callable[[Path], bytes] | None = None) -> Bundle:
    """Load a bundle folder written by the integration workshop; `read` gives a file's plaintext (a
    delivered bundle is encrypted at rest: pass the vault's reader, see `open_bundle`)."""
    path = Path(path)
    read = read or (lambda p: p.read_bytes())
    if not (path / "model.joblib").exists():
        raise MofangError(f"{path} is not a Mofang bundle (no model.joblib)")
    schema = json.loads(read(path / "schema.json").decode("utf-8"))
    metadata = json.loads(read(path / "metadata.json").decode("utf-8"))
    model = _model(path, read, schema)
    reference = json.loads(read(path / REFERENCE_FILE).decode("utf-8")) if (path / REFERENCE_FILE).exists() else None
    return Bundle(path=path, candidate=model, schema=schema, metadata=metadata, reference=reference)


def _model(path: Path, read: Callable[[Path], bytes], schema: dict[str, Any]) -> Any:
    """The bundle's model, by what `model.joblib` holds: a saved model (a candidate, a knowledge base, a forecast
    or anomaly model), or the description of checkpoint folders kept beside it (a chat product), which its task's
    `serving.load` hook loads."""
    model = joblib.load(io.BytesIO(read(path / "model.joblib")))
    if isinstance(model, SavedModel):
        return model
    task = str(schema.get("task"))
    load = task_spec(task).hook(KIND_LOAD)
    if load is None:
        raise MofangError(f"{path}/model.joblib holds no saved model, and products of task {task!r} have no loader")
    return load(path, read, schema)


def answers_rows(task: str) -> bool:
    """Whether a task's products answer rows at POST /predict (micro-batched, watched for drift, exported to the
    edge, a marketplace base): the task has no app of its own (`serving.app` hook)."""
    return KIND_APP not in task_spec(task).hooks


def answers_questions(model: Any) -> bool:
    """Whether a product's model answers questions (`ask(question, k)`: a retrieval knowledge base) rather than
    rows, series or chats."""
    return callable(getattr(model, "ask", None))


def open_bundle(path: str | Path, tenant: str, meta: Any = None) -> Bundle:
    """A delivered (encrypted) bundle of `tenant`, decrypted in memory with the key its place names (its order's;
    the tenant's for a bundle an earlier release stored)."""
    store = meta or MetaStore()
    try:
        vault = open_vault(store, settings().home)
        return load_bundle(path, lambda p: vault.read_any(tenant, p))
    finally:
        if meta is None:
            store.dispose()


def _plain_tree(value: Any) -> Any:
    """JSON-ready: numpy scalars as Python values, NaN as None, through dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain_tree(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_tree(v) for v in value]
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
