"""The vision line's integration workshop (the task's `integration.*` overrides) and the model it delivers.

`VisionModel` is what every candidate is saved as and what the bundle's `model.joblib` holds: a trained image
candidate (`mofang.tasks.vision.candidates`) with its classes, the defect-free class and the P(good) an image
needs to be called good (chosen on the validation images for the defect-recall target). The server loads it as
any saved model and answers images with it (`mofang.tasks.vision.serving`)."""

from __future__ import annotations

import base64
import copy
import io
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from mofang.core.errors import MofangError
from mofang.evaluation.report import REPORT_FILES, copy_reports
from mofang.integration.edge_process import no_edge_bundle
from mofang.integration.model_card import model_card
from mofang.integration.preprocess import NotExportable
from mofang.integration.station import packaged_bundle
from mofang.models.saved import SavedModel
from mofang.station.context import StationContext
from mofang.tasks.vision.candidates import FeatureCache, ImageCandidate
from mofang.tasks.vision.metrics import decide

BUNDLE_FILES = ("model.joblib", "schema.json", "metadata.json", "model_card.md", *REPORT_FILES)
IMAGE_FEATURE = "image"  # the one input of an image product: the file's bytes, base64 in JSON
REGION_THRESHOLD = 0.5  # a pixel of the defect map at or above this is part of the defect region


class VisionModel(SavedModel):
    """A trained image candidate as delivered: probabilities in `classes_` order, the decision with the
    defect-free class's threshold (`good_min`), and the defect region when the candidate localises."""

    def __init__(self, candidate: ImageCandidate, *, classes: Sequence[str], good_class: str | None,
                 good_min: float | None, name: str) -> None:
        self.candidate = detached(candidate)
        self.classes_ = [str(c) for c in classes]
        self.good_class, self.good_min, self.name = good_class, good_min, name
        self.family = candidate.family

    @property
    def localizes(self) -> bool:
        """Whether the candidate learnt where defects are (a defect-map head trained on masks)."""
        return callable(getattr(self.candidate, "defect_map", None)) and bool(
            getattr(self.candidate, "info", {}).get("segmentation"))

    def predict_proba(self, images: Sequence[np.ndarray] | pd.DataFrame) -> np.ndarray:
        """One row per image, one column per class of `classes_` (classes the candidate never saw: 0). A frame
        (the shared `Bundle.predict_records` path) holds the image files as base64 in its `image` column."""
        images = pixels_of(images)
        try:
            proba = np.asarray(self.candidate.predict_proba(list(images)), dtype=float)
        finally:
            forget_features(self.candidate)  # served images are not kept
        full = np.zeros((len(images), len(self.classes_)))
        for k, name in enumerate(self.candidate.classes_):
            if str(name) in self.classes_:
                full[:, self.classes_.index(str(name))] = proba[:, k]
        return full

    def labels(self, proba: np.ndarray) -> np.ndarray:
        """The class of each row of `proba`: the most probable, except that good needs P(good) ≥ good_min."""
        return decide(proba, self.classes_, self.good_class, self.good_min)

    def predict(self, images: Sequence[np.ndarray] | pd.DataFrame) -> np.ndarray:
        return self.labels(self.predict_proba(images))

    def regions(self, images: Sequence[np.ndarray]) -> list[dict[str, Any] | None]:
        """Where each image's defect is: its bounding box (x, y, width, height in the image's pixels) and
        score (the defect map's maximum), or None where no pixel reaches REGION_THRESHOLD."""
        if not self.localizes:
            return [None] * len(images)
        maps = self.candidate.defect_map(list(images))  # type: ignore[attr-defined]
        return [_region(m) for m in maps]

    def answer(self, images: Sequence[np.ndarray]) -> dict[str, Any]:
        """The served answer: predictions and probabilities (and regions when the model localises)."""
        proba = self.predict_proba(images)
        out: dict[str, Any] = {
            "predictions": [str(c) for c in self.labels(proba)],
            "probabilities": [{c: round(float(p), 6) for c, p in zip(self.classes_, row, strict=True)}
                              for row in proba]}
        if self.localizes:
            out["regions"] = self.regions(images)
        return out


def pixels_of(images: Sequence[np.ndarray] | pd.DataFrame) -> list[np.ndarray]:
    """Pixels as given, or decoded from a frame's `image` column of base64 files (BadImages names the row)."""
    if not isinstance(images, pd.DataFrame):
        return list(images)
    from mofang.tasks.vision.serving import BadImages, decoded, file_bytes

    if IMAGE_FEATURE not in images.columns:
        raise BadImages(f"rows need an '{IMAGE_FEATURE}' field (base64 of the image file's bytes)")
    return decoded([(f"rows[{i}].{IMAGE_FEATURE}", file_bytes(v, f"rows[{i}].{IMAGE_FEATURE}"))
                    for i, v in enumerate(images[IMAGE_FEATURE])])


def _region(prob: np.ndarray) -> dict[str, Any] | None:
    found = np.asarray(prob) >= REGION_THRESHOLD
    if not found.any():
        return None
    rows, cols = np.flatnonzero(found.any(axis=1)), np.flatnonzero(found.any(axis=0))
    return {"x": int(cols[0]), "y": int(rows[0]), "width": int(cols[-1] - cols[0] + 1),
            "height": int(rows[-1] - rows[0] + 1), "score": round(float(np.max(prob)), 4),
            "pixels": int(found.sum())}


def _members(candidate: Any) -> list[Any]:
    return [candidate, *getattr(candidate, "members", [])]


def detached(candidate: ImageCandidate) -> ImageCandidate:
    """A copy of `candidate` (and of a blend's members) whose feature caches are empty: no training image
    travels into the saved model."""
    copied = copy.copy(candidate)
    if hasattr(copied, "members"):
        copied.members = [detached(m) for m in copied.members]  # type: ignore[attr-defined]
    forget_features(copied)
    return copied


def forget_features(candidate: Any) -> None:
    """Empty the feature caches of a candidate and its members (they key images by identity)."""
    for member in _members(candidate):
        cache = getattr(member, "cache", None)
        if isinstance(cache, FeatureCache):
            member.cache = FeatureCache(cache.extractor)


def image_schema(dataset: dict[str, Any]) -> dict[str, Any]:
    """The served input: one image per row (base64 of the file's bytes), or multipart file uploads."""
    return {"task": dataset["task"], "target": dataset["target"], "id_column": None,
            "features": [{"name": IMAGE_FEATURE, "kind": "image"}], "classes": dataset["classes"], "ignored": [],
            "input": "image", "good_class": dataset["vision"]["good_class"]}


def package(ctx: StationContext) -> str:
    """The winner (as a VisionModel), schema, metadata, model card and report in the bundle folder."""
    dataset, winner, evaluation = ctx.load("dataset"), ctx.load("winner"), ctx.load("evaluation")
    folder = ctx.path("bundle")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    shutil.copyfile(winner["model_path"], folder / "model.joblib")
    model = VisionModel.load(winner["model_path"])
    schema = image_schema(dataset)
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False, indent=2), "utf-8")
    meta = {"product": ctx.order.id, "tenant": ctx.tenant, "order_id": ctx.order.id, "job_id": ctx.job_id,
            "task": ctx.order.task, "target": dataset["target"], "family": winner["family"],
            "candidate": winner["name"], "dataset_digest": dataset["digest"], "rows": dataset["rows"],
            "features": schema["features"], "dropped": [], "classes": dataset["classes"], "multi_label": False,
            "metrics": evaluation["metrics"], "gate": evaluation["gate"], "verdict": evaluation["verdict"],
            "deployment": ctx.order.deployment.target, "reason": winner.get("reason", ""),
            "vision": {**dataset["vision"], "good_min": model.good_min, "localizes": model.localizes}}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), "utf-8")
    card = model_card(meta) + (
        "\n## Serving\n\n`POST /predict` with `{\"rows\": [{\"image\": \"<base64 of the file bytes>\"}]}` or a "
        "multipart upload of image files answers `predictions` and `probabilities` per image"
        + (" and `regions` (the defect's box and score)" if model.localizes else "") + ".\n"
        "\n## Edge\n\n`edge.tar.gz` (when the winner's families have an ONNX form: the feature heads and the CNN) "
        "holds the ONNX models, the preprocessing as data and `mofang_edge_runner.py`, which needs only onnxruntime, "
        "numpy and Pillow: `python mofang_edge_runner.py IMAGES...` answers each image's class and probabilities "
        "(no regions), checked against the served product on every test image.\n")
    (folder / "model_card.md").write_text(card, "utf-8")
    copy_reports(evaluation["report_path"], folder)
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    ctx.metric(bundle_mb=round(size_mb, 3))
    ctx.save("bundle_draft", {"path": str(folder), "files": list(BUNDLE_FILES)})
    return f"bundle of {len(BUNDLE_FILES)} files, {size_mb:.2f} MB"


def edge_bundle(ctx: StationContext) -> str:
    """The signed edge archive (`mofang.tasks.vision.edge`): ONNX models, preprocessing as data, a runner needing
    only onnxruntime, numpy and Pillow; parity-checked against the packaged product, as served, on every test
    image (sent as lossless PNG files). A family without an ONNX form is said plainly (an error when the order
    asks for the edge)."""
    from mofang.integration.bundle import load_bundle
    from mofang.integration.edge import EDGE_ARCHIVE
    from mofang.security.signing import load_factory_key
    from mofang.tasks.vision.edge import build_edge_archive
    from mofang.tasks.vision.serving import MAX_IMAGES, answer_rows, max_pixels

    draft = ctx.load("bundle_draft")
    folder = Path(draft["path"])
    bundle = load_bundle(folder)
    images = ctx.load("images")
    files = [png_bytes(images.records[int(i)].pixels) for i in ctx.load("test")["row"]]

    def served(batch: list[bytes]) -> dict[str, Any]:
        answer: dict[str, Any] = {"predictions": [], "probabilities": []}
        for begin in range(0, len(batch), MAX_IMAGES):
            rows = [{IMAGE_FEATURE: base64.b64encode(f).decode("ascii")} for f in batch[begin:begin + MAX_IMAGES]]
            part = answer_rows(bundle, rows)
            answer["predictions"] += part["predictions"]
            answer["probabilities"] += part["probabilities"]
        return answer

    edge_target = ctx.order.deployment.target == "edge"
    about = {"product": ctx.order.id, "tenant": ctx.tenant, "job_id": ctx.job_id, "task": ctx.order.task,
             "family": bundle.metadata.get("family")}
    try:
        record = build_edge_archive(bundle.candidate, served, files, bundle.schema,
                                    (folder / "model_card.md").read_text("utf-8"), folder / EDGE_ARCHIVE,
                                    load_factory_key(ctx.artifacts.home), quantize=edge_target, about=about,
                                    max_pixels=max_pixels(bundle))
    except NotExportable as exc:
        (folder / EDGE_ARCHIVE).unlink(missing_ok=True)
        return no_edge_bundle(ctx, str(exc))
    parity = record["parity"]
    ctx.metric(edge_parity_max_abs_diff=parity["max_abs_diff"], edge_parity_rows=parity["rows"],
               edge_parity_label_agreement=parity["agreement"], edge_archive_mb=record["archive_mb"])
    ctx.reason(f"edge bundle ({', '.join(record['members'])}): {record['quantization']}; parity on "
               f"{parity['rows']} test images, max |Δ| {parity['max_abs_diff']:.2e} (tolerance "
               f"{parity['tolerance']:g}), {parity['agreement']:.1%} of labels agree")
    if EDGE_ARCHIVE not in draft.get("files", []):
        draft["files"] = [*draft.get("files", []), EDGE_ARCHIVE]
        ctx.save("bundle_draft", draft)
    return (f"{EDGE_ARCHIVE} ({record['archive_mb']:.2f} MB), parity max |Δ| {parity['max_abs_diff']:.1e} on "
            f"{parity['rows']} test images")


def smoke_test(ctx: StationContext) -> str:
    """The packaged model, loaded the way the server loads it, answers test images sent as base64 PNG files
    exactly like the trained model."""
    from mofang.tasks.vision.serving import answer_rows

    draft, bundle = packaged_bundle(ctx)
    images = ctx.load("images")
    test = ctx.load("test")
    chosen = [images.records[int(i)].pixels for i in test["row"].head(8)]
    rows = [{IMAGE_FEATURE: base64.b64encode(png_bytes(p)).decode("ascii")} for p in chosen]
    served = answer_rows(bundle, rows)
    direct = VisionModel.load(ctx.load("winner")["model_path"]).predict(chosen)
    if served["predictions"] != [str(c) for c in direct]:
        raise MofangError("the packaged model answers differently from the trained one")
    if bundle.predict_records(rows)["predictions"] != served["predictions"]:  # the shared rows path (portal, tools)
        raise MofangError("the bundle answers rows differently from POST /predict")
    ctx.save("bundle", draft)
    return f"bundle loads and answers {len(rows)} test images (base64 PNG) like the trained model"


def png_bytes(pixels: np.ndarray) -> bytes:
    """Pixels as PNG file bytes (lossless: decoding them gives the same pixels)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
