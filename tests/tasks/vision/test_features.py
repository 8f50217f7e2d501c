"""Classical features: one vector length for any image size; HOG sees edge orientation; LBP histograms sum to 1."""

from __future__ import annotations

import numpy as np

from mofang.tasks.vision.features import ClassicalFeatures, hog, lbp, residual


def test_any_image_size_gives_one_vector_length() -> None:
    features = ClassicalFeatures(size=64, hog_cell=16)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (h, w), dtype=np.uint8) for h, w in ((30, 90), (200, 120))]
    images.append(rng.integers(0, 255, (50, 50, 3), dtype=np.uint8))
    rows = features.transform(images)
    assert rows.shape == (3, features.dimension) and np.isfinite(rows).all()


def test_hog_sees_a_vertical_edge_as_a_horizontal_gradient() -> None:
    image = np.zeros((32, 32), dtype=np.float32)
    image[:, 16:] = 1.0
    cells = hog(image, cell=16, bins=9, block=1).reshape(-1, 9)
    assert cells.argmax(axis=1).tolist() == [0, 0, 0, 0]  # orientation 0 rad: a left-to-right gradient
    image = image.T.copy()
    assert hog(image, cell=16, bins=9, block=1).reshape(-1, 9).argmax(axis=1).tolist() == [4, 4, 4, 4]


def test_lbp_histograms_and_a_spot_in_the_residual() -> None:
    image = np.random.default_rng(1).random((40, 40)).astype(np.float32)
    histograms = lbp(image, grid=2).reshape(5, 59)
    assert np.allclose(histograms.sum(axis=1), 1.0)
    smooth = np.full((64, 64), 0.5, dtype=np.float32)
    spotted = smooth.copy()
    spotted[30:33, 30:33] = 0.0
    assert residual(spotted)[0] < residual(smooth)[0] - 0.05  # the darkest residual percentile
