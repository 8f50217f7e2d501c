"""Edge bundles: the candidate as ONNX + its preprocessing as data + the numpy-only runner + the model card,
parity-checked against the served product on the test split and packed as a signed tar.gz."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mofang.integration import edge_runner
from mofang.integration.archive import pack_signed
from mofang.integration.edge_runner import EdgeModel
from mofang.integration.onnx_export import check_exportable, export_estimator, quantize_int8
from mofang.integration.preprocess import NotExportable, edge_spec, pipeline_spec
from mofang.integration.transformer_export import is_transformer, write_vocab
from mofang.integration.transformer_export import pipeline_spec as transformer_pipeline

EDGE_ARCHIVE = "edge.tar.gz"
RUNNER = "mofang_edge_runner.py"
PARITY_ROWS = 2000
TRANSFORMER_PARITY_ROWS = 500  # three forward passes per row (served, fp32, int8): bounded on a CPU-only host
PROBA_TOLERANCE = 1e-3  # float32 graph vs the float64 native model
QUANTIZED_PROBA_TOLERANCE = 0.02  # int8 weights
# a transformer's int8 weights move probabilities further (errors compound through its layers: MiniLM-L6
# fine-tuned with LoRA, max |Δ| 0.044 on 400 test rows), so int8 is held to a looser max |Δ| and, instead of
# every label, a share of labels that must agree (near ties flip); one that fails ships in fp32 (recorded)
TRANSFORMER_INT8_TOLERANCE = 0.1
TRANSFORMER_INT8_AGREEMENT = 0.98
REGRESSION_TOLERANCE = 1e-4  # relative to the scale of the predictions
EDGE_STEPS = 4  # export, parity, the fp32 fallback's parity, signing and packing
Steps = Callable[[int, int, str], None]  # (steps done, steps in all, what it does now)


class EdgeRefused(NotExportable):
    """The edge model does not answer like the served product (parity failed)."""


@dataclass
class Parity:
    """ONNX vs native on the same rows: how far apart the answers are."""

    rows: int
    max_abs_diff: float
    labels_match: bool
    tolerance: float
    quantized: bool
    agreement: float = 1.0  # share of rows whose predicted label(s) agree
    min_agreement: float | None = None  # when set, this share must agree (else every label must)

    @property
    def passed(self) -> bool:
        labels = self.labels_match if self.min_agreement is None else self.agreement >= self.min_agreement
        return labels and self.max_abs_diff <= self.tolerance

    def describe(self) -> str:
        if self.min_agreement is None:
            labels = "labels match" if self.labels_match else "LABELS DIFFER"
        else:
            labels = (f"{self.agreement:.1%} of labels agree (at least {self.min_agreement:.0%} "
                      f"{'met' if self.agreement >= self.min_agreement else 'NOT MET'})")
        return (f"{self.rows} test rows: {labels}, max |Δ| {self.max_abs_diff:.2e} "
                f"(tolerance {self.tolerance:g}{', int8' if self.quantized else ''})")


def records_of(frame: pd.DataFrame, features: list[str]) -> list[dict[str, Any]]:
    """JSON-like rows (as a client sends them) from a frame: timestamps as ISO text, missing as None."""
    out = []
    for row in frame[features].itertuples(index=False, name=None):
        out.append({name: _json_value(v) for name, v in zip(features, row, strict=True)})
    return out


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_edge_folder(candidate: Any, schema: dict[str, Any], card: str, folder: Path, *,
                      quantize: bool) -> dict[str, Any]:
    """Write model.onnx, preprocess.json (and a transformer's vocab.txt), the runner, schema.json and the model
    card into `folder`; returns what was built (quantized or why not). Raises NotExportable naming what cannot
    be exported."""
    vocab = None
    check_exportable(candidate)  # a bag or an ensemble: said before its (absent) single pipeline is read
    if is_transformer(candidate):  # the tokenizer first: a byte-level BPE is refused before the export
        pipeline, vocab = transformer_pipeline(candidate)
        width = 0
    else:
        pipeline = pipeline_spec(candidate.pipeline_)
        width = int(pipeline["width"])
    exported = export_estimator(candidate, width)
    data, quantized, note = exported.data, False, "fp32 (cloud target)"
    if quantize:
        int8 = quantize_int8(data)
        if int8 is None:
            note = "no weight matrices to quantize (tree ensemble or sklearn linear operator): kept fp32"
        else:
            data, quantized, note = int8, True, "int8 dynamic quantization of the weights"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(data)
    spec = edge_spec(candidate, schema, "model.onnx", exported.output, exported.proba_columns, pipeline=pipeline)
    (folder / "preprocess.json").write_text(json.dumps(spec, ensure_ascii=False), "utf-8")
    if vocab is not None:
        write_vocab(folder, vocab)
    shutil.copyfile(edge_runner.__file__, folder / RUNNER)
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False, indent=2), "utf-8")
    (folder / "model_card.md").write_text(card, "utf-8")
    return {"quantized": quantized, "quantization": note, "onnx_mb": round(len(data) / 2**20, 3),
            "fp32": exported.data, "transformer": vocab is not None}


def check_parity(bundle: Any, folder: Path, records: list[dict[str, Any]], quantized: bool,
                 transformer: bool = False) -> Parity:
    """The edge runner (loaded from `folder`) against the served product's `predict_records` on `records`
    (a transformer in int8: the looser tolerance and the share of labels that must agree)."""
    edge = EdgeModel(folder)
    native = bundle.predict_records(records)
    mine = edge.predict(records)
    if "probabilities" not in native:  # regression
        a = np.asarray(native["predictions"], dtype=float)
        b = np.asarray(mine["predictions"], dtype=float)
        scale = max(1.0, float(np.nanmax(np.abs(a))) if len(a) else 1.0)
        diff = float(np.nanmax(np.abs(a - b))) / scale if len(a) else 0.0
        tolerance = REGRESSION_TOLERANCE * (100 if quantized else 1)
        return Parity(len(records), diff, True, tolerance, quantized)
    classes = list(native["probabilities"][0]) if records else []
    a = np.asarray([[p[c] for c in classes] for p in native["probabilities"]], dtype=float)
    b = np.asarray([[p[c] for c in classes] for p in mine["probabilities"]], dtype=float)
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    same = [json.dumps(p, ensure_ascii=False) == json.dumps(q, ensure_ascii=False)
            for p, q in zip(native["predictions"], mine["predictions"], strict=True)]
    agreement = sum(same) / len(same) if same else 1.0
    device = getattr(getattr(bundle.candidate, "estimator_", None), "device_", None)
    on_gpu = getattr(device, "type", "cpu") != "cpu"  # served in bfloat16 autocast: the fp32 graph differs as much
    if transformer and (quantized or on_gpu):
        return Parity(len(records), diff, all(same), TRANSFORMER_INT8_TOLERANCE, quantized, agreement,
                      TRANSFORMER_INT8_AGREEMENT)
    return Parity(len(records), diff, all(same), QUANTIZED_PROBA_TOLERANCE if quantized else PROBA_TOLERANCE,
                  quantized, agreement)


def build_edge_archive(bundle: Any, test: pd.DataFrame, card: str, archive: Path, key: Any, *,
                       quantize: bool, about: dict[str, Any], on_step: Steps | None = None) -> dict[str, Any]:
    """Export, parity-check and pack the edge bundle of a loaded (served) `bundle` into `archive`.

    With `quantize`, an int8 model that fails parity falls back to fp32 (recorded); a model that fails
    parity in fp32 raises EdgeRefused with the figures. Returns the build record (parity included).
    `on_step(done, total, note)` hears each step as it starts, and the end."""
    step = on_step or (lambda _done, _total, _note: None)
    if bundle.is_retrieval:
        raise NotExportable("a retrieval knowledge base is served (POST /ask), not exported to ONNX")
    if not bundle.answers_rows:  # a kind with routes of its own (an anomaly detector: POST /score)
        raise NotExportable(f"this {bundle.schema['task']} product is served by routes of its own (not POST "
                            "/predict); its ONNX export is not built yet")

    rows = TRANSFORMER_PARITY_ROWS if is_transformer(bundle.candidate) else PARITY_ROWS
    records = records_of(test.head(rows), bundle.feature_names)
    with tempfile.TemporaryDirectory(prefix="mofang-edge-") as tmp:
        folder = Path(tmp) / "edge"
        step(0, EDGE_STEPS, "exporting the model to ONNX" + (" (int8)" if quantize else ""))
        built = write_edge_folder(bundle.candidate, bundle.schema, card, folder, quantize=quantize)
        step(1, EDGE_STEPS, f"checking parity on {len(records):,} test rows")
        parity = check_parity(bundle, folder, records, built["quantized"], built["transformer"])
        if not parity.passed and built["quantized"]:
            step(2, EDGE_STEPS, f"int8 failed parity: checking fp32 on {len(records):,} test rows")
            (folder / "model.onnx").write_bytes(built["fp32"])
            built["quantization"] = f"int8 failed parity ({parity.describe()}): kept fp32"
            built["quantized"] = False
            parity = check_parity(bundle, folder, records, False, built["transformer"])
        if not parity.passed:
            raise EdgeRefused(f"edge bundle refused: the ONNX model does not answer like the product on "
                              f"{parity.describe()}")
        record = {"parity": asdict(parity), "quantization": built["quantization"], "onnx_mb": built["onnx_mb"]}
        step(3, EDGE_STEPS, "signing and packing the archive")
        pack_signed(folder, archive, key, {**about, "kind": "edge-bundle", **record})
    step(EDGE_STEPS, EDGE_STEPS, "edge archive packed")
    record["archive_mb"] = round(archive.stat().st_size / 2**20, 3)
    return record
