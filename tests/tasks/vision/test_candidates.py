"""Every family behind one interface, trained for real on a few dozen tiles within tiny budgets."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mofang.tasks.vision.candidates import CandidateSkipped, FeatureCache, build
from mofang.tasks.vision.intake import ImageSet, read_images
from mofang.tasks.vision.pretrained import PretrainedBackbone, resnet
from mofang.tasks.vision.trial import run_trial, table
from tests.tasks.vision.conftest import copy_subset

CLASSES = ("MT_Blowhole", "MT_Free", "MT_Uneven")


@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> ImageSet:
    return read_images(copy_subset(tmp_path_factory.mktemp("tiles"), 8, classes=CLASSES), duplicates="keep")


def check_proba(candidate, images: ImageSet) -> np.ndarray:
    proba = candidate.predict_proba(images.images)
    assert proba.shape == (len(images.records), len(CLASSES)) and np.allclose(proba.sum(axis=1), 1)
    assert candidate.classes_ == list(CLASSES)
    assert set(candidate.predict(images.images[:3])) <= set(CLASSES)
    return proba


@pytest.mark.parametrize("family", ["features-logistic", "features-lightgbm"])
def test_feature_families_fit_and_predict(family: str, tiles: ImageSet) -> None:
    cache = FeatureCache()
    candidate = build(family, cache=cache).fit(tiles.images, tiles.labels, budget_s=4)
    proba = check_proba(candidate, tiles)
    assert (np.asarray(CLASSES)[proba.argmax(axis=1)] == np.asarray(tiles.labels)).mean() > 0.8  # seen images
    assert candidate.info["features"] == cache.extractor.dimension and candidate.info["train_s"] < 8


def test_the_cnn_trains_within_its_budget_and_maps_defects(tiles: ImageSet) -> None:
    candidate = build("cnn", size=64, width=8, batch=8).fit(tiles.images, tiles.labels, tiles.masks, budget_s=4,
                                                            seed=1)
    # a step may overrun the budget on a loaded host
    assert candidate.info["train_s"] < 9 and candidate.info["steps"] > 0 and candidate.info["segmentation"]
    check_proba(candidate, tiles)
    maps = candidate.defect_map(tiles.images[:2])
    assert [m.shape for m in maps] == [p.shape[:2] for p in tiles.images[:2]]
    assert all(0 <= m.min() and m.max() <= 1 for m in maps)
    state = candidate.state()
    assert state["classes"] == list(CLASSES) and state["channels"] == 1


def test_the_cnn_reads_colour_images_and_no_masks() -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (40, 30, 3), dtype=np.uint8) for _ in range(6)]
    candidate = build("cnn", size=32, width=4, batch=4).fit(images, ["a", "b"] * 3, budget_s=1)
    assert candidate.channels == 3 and not candidate.info["segmentation"]
    assert candidate.predict_proba(images).shape == (6, 2)


def test_the_pretrained_family_is_skipped_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(CandidateSkipped, match="no local weights file given"):
        PretrainedBackbone().check()
    with pytest.raises(CandidateSkipped, match="pretrained weights not found at"):
        PretrainedBackbone(weights=tmp_path / "nowhere.pth").check()
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CandidateSkipped, match="cannot read the weights"):
        PretrainedBackbone(weights=tmp_path / "junk.pth").load()
    torch.save({"conv1.weight": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(CandidateSkipped, match="do not fit resnet18"):
        PretrainedBackbone(weights=tmp_path / "other.pth").load()
    with pytest.raises(CandidateSkipped, match="unknown backbone architecture 'nonet'"):
        PretrainedBackbone(weights=tmp_path / "other.pth", arch="nonet").load()


def test_a_local_resnet_weights_file_is_loaded_and_trained_on(tmp_path: Path, tiles: ImageSet) -> None:
    source = resnet("resnet18")
    torch.nn.init.normal_(source.conv1.weight, std=0.05)
    torch.save({"state_dict": {f"module.{k}": v for k, v in source.state_dict().items()}}, tmp_path / "r18.pth")
    candidate = PretrainedBackbone(weights=tmp_path / "r18.pth", size=64, batch=16)
    backbone = candidate.load()
    assert torch.equal(backbone.conv1.weight, source.conv1.weight)  # the file's weights, not a fresh start
    candidate.fit(tiles.images, tiles.labels, budget_s=20)
    assert candidate.info["features"] == 512
    check_proba(candidate, tiles)


def test_a_trial_scores_every_family_and_names_a_winner(tmp_path: Path) -> None:
    images = read_images(copy_subset(tmp_path / "tiles", 6, classes=CLASSES), duplicates="group")
    result = run_trial(images, budget_s=8, seed=0, families=("features-logistic", "pretrained", "cnn"),
                       settings={"cnn": {"size": 48, "width": 4, "batch": 8}})
    assert result["good_class"] == "MT_Free" and sum(result["split"].values()) == len(images.records)
    status = {c["family"]: c for c in result["candidates"]}
    assert status["pretrained"]["status"] == "skipped" and "weights" in status["pretrained"]["reason"]
    for family in ("features-logistic", "cnn"):
        test = status[family]["test"]
        assert status[family]["status"] == "trained" and 0 <= test["f1_macro"] <= 1
        assert test["defect_recall"] is not None and test["confusion"]["labels"] == list(CLASSES)
        assert status[family]["latency_ms"]["p95"] > 0
    assert "mask_iou" in status["cnn"]["test"] and result["winner"] in status
    blend = status["blend(features-logistic+cnn)"] if "blend(features-logistic+cnn)" in status else \
        status["blend(cnn+features-logistic)"]
    assert blend["info"]["members"] and 0 <= blend["test"]["f1_macro"] <= 1
    assert "skipped: no local weights" in table(result)


def test_the_trial_script_runs_an_order_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from mofang.tasks.vision.trial import main

    copy_subset(tmp_path / "tiles", 5, classes=CLASSES)
    (tmp_path / "order.yaml").write_text(
        "id: t\ntenant: t\ntask: image-classification\ndata: {path: tiles}\nbudget: {minutes: 0.1}\n"
        "vision: {good_class: MT_Free, duplicates: group, image_size: 48, families: [features-logistic, cnn]}\n",
        encoding="utf-8")
    main(["--order", str(tmp_path / "order.yaml"), "--cnn", '{"width": 8}', "--out", str(tmp_path / "r.json")])
    printed = capsys.readouterr().out
    assert "good class MT_Free" in printed and "winner by validation macro-F1" in printed
    result = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert result["budget_s"] == pytest.approx(6) and result["duplicates"] == "group"
    assert [c["family"] for c in result["candidates"]][:2] == ["features-logistic", "cnn"]
    assert result["candidates"][1]["info"]["size"] == 48


def test_the_thread_chooser_keeps_the_faster_count() -> None:
    from mofang.tasks.vision.cnn import ThreadChooser

    previous = torch.get_num_threads()
    try:
        chooser = ThreadChooser(2, every=10)
        slow = {1: 0.0, 2: 0.02}  # two threads made slower, as on a loaded host
        used = []
        for step in range(24):
            chooser.begin(step)
            used.append(torch.get_num_threads())
            time.sleep(slow[chooser.current])
            chooser.end(step)
        assert used[:6] == [1, 1, 1, 1, 2, 2] and chooser.best() == 1
        assert used[6:12] == [1] * 6 and used[12:14] == [2, 2]  # the other count is tried again, then dropped
        assert used[14:22] == [1] * 8 and used[22:] == [2, 2] and set(chooser.summary()) == {1, 2}
        single = ThreadChooser(1)
        single.begin(0)
        assert torch.get_num_threads() == 1 and single.best() == 1
    finally:
        torch.set_num_threads(previous)
