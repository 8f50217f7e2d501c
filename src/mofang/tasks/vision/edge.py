"""The edge bundle of an image product: each model of the delivered candidate as ONNX (a feature head through
skl2onnx or onnxmltools, the CNN through torch.onnx; a blend's members side by side, averaged by the runner), the
preprocessing as data (`preprocess.json`), the runner (`edge_runner`, needing only onnxruntime, numpy and Pillow)
with the factory's own decoding and features (`portable`, shipped as `mofang_vision.py`), the schema and model
card — parity-checked against the served product on every test image and packed as a signed tar.gz, like the
other tasks' edge bundles (`mofang.integration.edge`)."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from mofang.integration.archive import pack_signed
from mofang.integration.edge import PROBA_TOLERANCE, QUANTIZED_PROBA_TOLERANCE, EdgeRefused, Parity
from mofang.integration.onnx_export import ML_OPSET, OPSET
from mofang.integration.preprocess import NotExportable
from mofang.tasks.vision import edge_runner, portable
from mofang.tasks.vision.candidates import FeatureClassifier

RUNNER, PORTABLE = "mofang_edge_runner.py", "mofang_vision.py"


def members_of(candidate: Any) -> list[Any]:
    """The models whose probabilities the product averages: a blend's members, or the candidate itself."""
    return list(getattr(candidate, "members", None) or [candidate])


def export_member(member: Any) -> tuple[bytes, dict[str, Any]]:
    """One model as ONNX and its entry in preprocess.json; NotExportable says why it has no ONNX form."""
    if isinstance(member, FeatureClassifier):
        return _feature_head(member)
    if member.family == "cnn":
        return _network(member)
    raise NotExportable(f"the {member.family} family has no ONNX export yet (a pretrained backbone is served by "
                        "POST /predict); the product ships its joblib model")


def _feature_head(member: FeatureClassifier) -> tuple[bytes, dict[str, Any]]:
    """Classical features in, class probabilities out: the scaled logistic regression through skl2onnx, the
    LightGBM head through onnxmltools."""
    from skl2onnx.common.data_types import FloatTensorType

    extractor = member.cache.extractor
    width = extractor.dimension
    model = member.model
    if member.head == "logistic":
        from skl2onnx import convert_sklearn

        head = model.steps[-1][1]
        onnx = convert_sklearn(model, initial_types=[("X", FloatTensorType([None, width]))],
                               options={id(head): {"zipmap": False}},
                               target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET})
    else:
        import onnxmltools
        from onnxmltools.convert.common.data_types import FloatTensorType as MlFloat

        onnx = onnxmltools.convert_lightgbm(model, initial_types=[("X", MlFloat([None, width]))], zipmap=False,
                                            target_opset=15)
    entry = {"kind": "features", "family": member.family, "input": "X", "output": "probabilities",
             "classes": [str(c) for c in model.classes_], "features": extractor.settings()}
    return onnx.SerializeToString(), entry


def _network(member: Any) -> tuple[bytes, dict[str, Any]]:
    """The CNN with its per-image standardisation and flip averaging inside the graph: uint8 pixel values as
    float32 N×C×size×size in, softmax probabilities out."""
    import torch

    if member.net is None:
        raise NotExportable("the CNN is not trained")

    class Served(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            x = pixels / 255.0
            x = (x - x.mean(dim=(1, 2, 3), keepdim=True)) / (x.std(dim=(1, 2, 3), keepdim=True) + 0.02)
            logits = (self.net(x)[0] + self.net(torch.flip(x, dims=[3]))[0]) / 2
            return torch.softmax(logits, dim=1)

    wrapper = Served(member.net).eval()
    example = torch.zeros(2, member.channels, member.size, member.size)
    example[1] = 255.0 * torch.rand(member.channels, member.size, member.size)
    buffer = io.BytesIO()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, (example,), buffer, input_names=["pixels"], output_names=["probabilities"],
                              opset_version=OPSET, dynamo=False,
                              dynamic_axes={"pixels": {0: "batch"}, "probabilities": {0: "batch"}})
    except Exception as exc:  # noqa: BLE001 - any exporter failure means: no edge form, with why
        raise NotExportable(f"torch.onnx could not export the CNN: {str(exc).splitlines()[0]}") from None
    entry = {"kind": "network", "family": member.family, "input": "pixels", "output": "probabilities",
             "classes": [str(c) for c in member.classes_], "size": int(member.size), "channels": int(member.channels)}
    return buffer.getvalue(), entry


def write_edge_folder(model: Any, schema: dict[str, Any], card: str, folder: Path, *, quantize: bool,
                      max_pixels: int = portable.MAX_PIXELS) -> dict[str, Any]:
    """Write the ONNX models (`model.onnx`, then `model_1.onnx` ... for a blend's further members),
    preprocess.json, the runner and `mofang_vision.py`, schema.json and the model card into `folder`; returns
    what was built. The models stay fp32 (`quantize` only changes what is said): onnxruntime's dynamic
    quantization leaves convolutions and the feature heads' operators as they are, and they are small.
    Raises NotExportable naming what cannot be exported."""
    exported = [export_member(m) for m in members_of(model.candidate)]
    folder.mkdir(parents=True, exist_ok=True)
    members = []
    for index, (data, entry) in enumerate(exported):
        name = "model.onnx" if index == 0 else f"model_{index}.onnx"
        (folder / name).write_bytes(data)
        members.append({**entry, "model_file": name})
    spec = {"format": edge_runner.FORMAT, "task": schema.get("task"), "classes": list(model.classes_),
            "good_class": model.good_class, "good_min": model.good_min, "input": "image files",
            "decode": {"max_pixels": int(max_pixels), "max_side": portable.MAX_SIDE}, "members": members}
    (folder / "preprocess.json").write_text(json.dumps(spec, ensure_ascii=False, indent=1), "utf-8")
    shutil.copyfile(edge_runner.__file__, folder / RUNNER)
    shutil.copyfile(portable.__file__, folder / PORTABLE)
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False, indent=2), "utf-8")
    (folder / "model_card.md").write_text(card, "utf-8")
    size_mb = sum(len(data) for data, _ in exported) / 2**20
    note = (f"kept fp32 ({size_mb:.2f} MB; dynamic int8 quantization would leave the convolutions and feature "
            "heads as they are)" if quantize else "fp32 (cloud target)")
    return {"quantized": False, "quantization": note, "members": [m["family"] for m in members],
            "onnx_mb": round(size_mb, 3)}


def check_parity(served: Callable[[list[bytes]], dict[str, Any]], folder: Path, files: Sequence[bytes],
                 quantized: bool) -> Parity:
    """The edge runner (loaded from `folder`) against the served product on the same image files: every label
    must agree and every probability be within the tolerance."""
    edge = edge_runner.VisionEdge(folder)
    native, mine = served(list(files)), edge.predict_files(list(files))
    classes = list(native["probabilities"][0]) if files else []
    a = np.asarray([[p[c] for c in classes] for p in native["probabilities"]], dtype=float)
    b = np.asarray([[p[c] for c in classes] for p in mine["probabilities"]], dtype=float)
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    same = [p == q for p, q in zip(native["predictions"], mine["predictions"], strict=True)]
    return Parity(len(files), diff, all(same), QUANTIZED_PROBA_TOLERANCE if quantized else PROBA_TOLERANCE,
                  quantized, sum(same) / len(same) if same else 1.0)


def build_edge_archive(model: Any, served: Callable[[list[bytes]], dict[str, Any]], files: Sequence[bytes],
                       schema: dict[str, Any], card: str, archive: Path, key: Any, *, quantize: bool,
                       about: dict[str, Any], max_pixels: int = portable.MAX_PIXELS) -> dict[str, Any]:
    """Export, parity-check on `files` (image file bytes; `served` answers them as POST /predict does) and pack
    the edge bundle of the delivered VisionModel `model` into `archive`; one that fails parity raises
    EdgeRefused with the figures."""
    with tempfile.TemporaryDirectory(prefix="mofang-edge-") as tmp:
        folder = Path(tmp) / "edge"
        built = write_edge_folder(model, schema, card, folder, quantize=quantize, max_pixels=max_pixels)
        parity = check_parity(served, folder, files, built["quantized"])
        if not parity.passed:
            raise EdgeRefused(f"edge bundle refused: the ONNX models do not answer like the product on "
                              f"{parity.describe().replace('rows', 'images')}")
        record = {"parity": asdict(parity), "quantization": built["quantization"], "onnx_mb": built["onnx_mb"],
                  "members": built["members"]}
        pack_signed(folder, archive, key, {**about, "kind": "edge-bundle", **record})
    record["archive_mb"] = round(archive.stat().st_size / 2**20, 3)
    return record
