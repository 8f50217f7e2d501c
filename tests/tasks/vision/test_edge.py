"""The image edge bundle: each family's ONNX form answers like the product as served (the feature heads, the
CNN, a blend of them), the archive is signed, the runner names unusable files, and a family without an ONNX form
is refused with the reason."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mofang.integration.archive import verify_archive
from mofang.integration.preprocess import NotExportable
from mofang.security.signing import load_factory_key
from mofang.tasks.vision import edge_runner
from mofang.tasks.vision.candidates import Blend, FeatureCache, ImageCandidate, build
from mofang.tasks.vision.edge import RUNNER, build_edge_archive, check_parity, write_edge_folder
from mofang.tasks.vision.intake import ImageSet, read_images
from mofang.tasks.vision.packaging import VisionModel, png_bytes
from mofang.tasks.vision.serving import decoded
from tests.tasks.vision.conftest import copy_subset

CLASSES = ("MT_Blowhole", "MT_Crack", "MT_Free")


@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> ImageSet:
    return read_images(copy_subset(tmp_path_factory.mktemp("tiles"), 4, classes=CLASSES), duplicates="keep")


@pytest.fixture(scope="module")
def trained(tiles: ImageSet) -> dict[str, ImageCandidate]:
    cache = FeatureCache()
    out = {family: build(family, cache=cache).fit(tiles.images, tiles.labels, budget_s=2)
           for family in ("features-logistic", "features-lightgbm")}
    out["cnn"] = build("cnn", size=32, width=8, batch=8).fit(tiles.images, tiles.labels, tiles.masks, budget_s=2)
    out["blend"] = Blend([out["features-logistic"], out["cnn"]])
    return out


def product(candidate: ImageCandidate) -> VisionModel:
    return VisionModel(candidate, classes=list(CLASSES), good_class="MT_Free", good_min=0.6, name=candidate.family)


def served_by(model: VisionModel):
    """What POST /predict answers for image files (decoded as served, then the delivered model)."""
    return lambda files: model.answer(decoded([(f"file {i}", f) for i, f in enumerate(files)]))


@pytest.mark.parametrize("family", ["features-logistic", "features-lightgbm", "cnn", "blend"])
def test_every_family_answers_like_the_served_product(family: str, trained, tiles: ImageSet, tmp_path: Path) -> None:
    model = product(trained[family])
    folder = tmp_path / "edge"
    built = write_edge_folder(model, {"task": "image-classification"}, "# tiles\n", folder, quantize=False)
    names = {p.name for p in folder.iterdir()}
    assert {"model.onnx", "preprocess.json", RUNNER, "mofang_vision.py", "schema.json", "model_card.md"} <= names
    spec = json.loads((folder / "preprocess.json").read_text("utf-8"))
    assert spec["good_class"] == "MT_Free" and spec["good_min"] == 0.6 and spec["classes"] == list(CLASSES)
    assert len(spec["members"]) == (2 if family == "blend" else 1) == len(built["members"])
    files = [png_bytes(p) for p in tiles.images]
    parity = check_parity(served_by(model), folder, files, quantized=False)
    assert parity.passed and parity.labels_match and parity.rows == len(files), parity.describe()
    assert parity.max_abs_diff <= 1e-4


def test_the_archive_is_signed_and_the_runner_names_bad_files(trained, tiles: ImageSet, tmp_path: Path) -> None:
    model = product(trained["features-logistic"])
    key = load_factory_key(tmp_path / "home")
    files = [png_bytes(p) for p in tiles.images]
    record = build_edge_archive(model, served_by(model), files, {"task": "image-classification"}, "# tiles\n",
                                tmp_path / "edge.tar.gz", key, quantize=True, about={"product": "tiles"})
    assert record["parity"]["rows"] == len(files) and record["parity"]["labels_match"]
    assert "kept fp32" in record["quantization"]
    manifest = verify_archive(tmp_path / "edge.tar.gz", key.public_pem())
    assert manifest["kind"] == "edge-bundle" and manifest["members"] == ["features-logistic"]
    folder = tmp_path / "unpacked"
    with tarfile.open(tmp_path / "edge.tar.gz") as tar:
        tar.extractall(folder, filter="data")
    inputs = tmp_path / "images"
    inputs.mkdir()
    for i, data in enumerate(files[:3]):
        (inputs / f"{i}.png").write_bytes(data)
    (inputs / "empty.jpg").write_bytes(b"")
    (inputs / "notes.jpg").write_text("not a picture", encoding="utf-8")
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    Image.fromarray(rgba, "RGBA").save(inputs / "alpha.png")
    out = tmp_path / "answers.json"
    assert edge_runner.main([str(inputs), "--bundle", str(folder), "--out", str(out)]) == 1  # some unusable
    answers = {Path(a["image"]).name: a for a in json.loads(out.read_text("utf-8"))}
    assert answers["empty.jpg"]["kind"] == "empty" and "empty file" in answers["empty.jpg"]["error"]
    assert answers["notes.jpg"]["kind"] == "not-an-image"
    assert answers["alpha.png"]["prediction"] in CLASSES  # flattened onto white, answered
    served = served_by(model)(files[:3])
    assert [answers[f"{i}.png"]["prediction"] for i in range(3)] == served["predictions"]


def test_a_family_without_an_onnx_form_is_refused_with_the_reason(tmp_path: Path) -> None:
    class Backbone(ImageCandidate):
        family = "pretrained"

    with pytest.raises(NotExportable, match="pretrained family has no ONNX export"):
        write_edge_folder(product(Backbone()), {}, "", tmp_path / "edge", quantize=False)
