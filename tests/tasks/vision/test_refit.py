"""The winner's fast members fitted again on train + validation images, the threshold and a network kept."""

from __future__ import annotations

import numpy as np
import pytest

from mofang.tasks.vision.candidates import Blend, FeatureCache, build
from mofang.tasks.vision.intake import ImageSet, read_images
from mofang.tasks.vision.packaging import VisionModel
from mofang.tasks.vision.refit import affordable, refit_on_pool, refittable
from tests.tasks.vision.conftest import copy_subset

CLASSES = ("MT_Blowhole", "MT_Free", "MT_Uneven")


@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> ImageSet:
    return read_images(copy_subset(tmp_path_factory.mktemp("tiles"), 8, classes=CLASSES), duplicates="keep")


def test_a_feature_model_is_refitted_on_every_image_with_its_threshold_kept(tiles: ImageSet) -> None:
    train = tiles.subset(list(range(0, len(tiles.records), 2)))
    logistic = build("features-logistic", cache=FeatureCache()).fit(train.images, train.labels, budget_s=5)
    model = VisionModel(logistic, classes=list(CLASSES), good_class="MT_Free", good_min=0.7, name="features-logistic")
    result = refit_on_pool(model, tiles.images, tiles.labels, tiles.masks, seed=3)
    assert result.model is not None and result.members == ("features-logistic",)
    refitted = result.model
    assert refitted.candidate is not logistic and refitted.candidate.info["images"] == len(tiles.records)
    assert refitted.good_min == 0.7 and refitted.classes_ == list(CLASSES) and refitted.good_class == "MT_Free"
    assert f"on {len(tiles.records)} training + validation images" in result.note and "0.7 kept" in result.note
    before, after = model.predict_proba(tiles.images), refitted.predict_proba(tiles.images)
    assert after.shape == before.shape and not np.allclose(after, before)  # it learnt from the other half too
    assert logistic.info["images"] == len(train.records)  # the model scored on validation is left as it was


def test_a_blend_refits_its_feature_members_and_keeps_the_network(tiles: ImageSet) -> None:
    cache = FeatureCache()
    logistic = build("features-logistic", cache=cache).fit(tiles.images[:12], tiles.labels[:12], budget_s=5)
    cnn = build("cnn", size=32, width=4, batch=4).fit(tiles.images[:12], tiles.labels[:12], budget_s=1, seed=1)
    blend = Blend([cnn, logistic])
    assert refittable(blend) == [logistic] and refittable(cnn) == []
    model = VisionModel(blend, classes=list(CLASSES), good_class="MT_Free", good_min=None, name=blend.family)
    result = refit_on_pool(model, tiles.images, tiles.labels, tiles.masks, seed=3)
    assert result.model is not None and "cnn kept as trained" in result.note
    members = result.model.candidate.members
    assert members[0].state()["classes"] == cnn.state()["classes"] and members[1].info["images"] == len(tiles.records)
    network = VisionModel(cnn, classes=list(CLASSES), good_class="MT_Free", good_min=None, name="cnn")
    alone = refit_on_pool(network, tiles.images, tiles.labels, tiles.masks, seed=3)
    assert alone.model is None and "no member of it is refitted" in alone.note


def test_the_members_refitted_are_those_the_time_left_affords(tiles: ImageSet) -> None:
    cache = FeatureCache()
    logistic = build("features-logistic", cache=cache).fit(tiles.images[:12], tiles.labels[:12], budget_s=5)
    boosted = build("features-lightgbm", cache=cache).fit(tiles.images[:12], tiles.labels[:12], budget_s=0.5)
    blend = Blend([boosted, logistic])
    seconds = {"features-logistic": 3.5, "features-lightgbm": 40.0}  # each fit less 1.5 s of features (100 images)
    # features of 200 images: 1.5 × 15 ms × 200 = 4.5 s; logistic 1.5 × 2 s × 2 = 6 s; boosting 1.5 × 38.5 × 2 = 115.5 s
    assert affordable(blend, seconds, 100, 200, 20.0) == (["features-logistic"], pytest.approx(10.5))
    assert affordable(blend, seconds, 100, 200, 200.0)[0] == ["features-logistic", "features-lightgbm"]
    assert affordable(blend, seconds, 100, 200, 5.0) == ([], 0.0)
    assert affordable(build("cnn"), {"cnn": 1.0}, 100, 200, 1000.0) == ([], 0.0)
    model = VisionModel(blend, classes=list(CLASSES), good_class="MT_Free", good_min=None, name=blend.family)
    result = refit_on_pool(model, tiles.images, tiles.labels, tiles.masks, seed=3, only=["features-logistic"])
    assert result.model is not None and "features-lightgbm (no time to refit it) kept as trained" in result.note
    again = refit_on_pool(model, tiles.images, tiles.labels, tiles.masks, seed=3, only=["features-lightgbm"])
    grown = boosted.trees_grown()
    assert again.model is not None and grown and again.model.candidate.members[0].trees_grown() == grown
