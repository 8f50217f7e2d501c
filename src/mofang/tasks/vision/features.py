"""Classical image features in numpy/scipy: histograms of oriented gradients (HOG), uniform local binary
patterns (LBP), intensity histograms, and local-contrast residuals (what a defect leaves on a smooth surface).

Every image is read as grayscale at a fixed square size first, so images of any size give vectors of one
length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mofang.tasks.vision.images import gray, resized

_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def square(pixels: np.ndarray, size: int) -> np.ndarray:
    """Grayscale float32 in [0, 1] at size×size."""
    return resized(gray(pixels), (size, size)).astype(np.float32) / 255.0


def hog(image: np.ndarray, cell: int = 16, bins: int = 9, block: int = 2) -> np.ndarray:
    """Histograms of oriented gradients: unsigned orientations in `bins` bins (linear interpolation) per
    cell×cell cell, L2-Hys normalised over block×block cells, concatenated."""
    gy, gx = np.gradient(image.astype(np.float32))
    magnitude = np.hypot(gx, gy)
    position = (np.arctan2(gy, gx) % np.pi) / (np.pi / bins)
    low = np.floor(position).astype(int) % bins
    weight_high = position - np.floor(position)
    rows, cols = image.shape[0] // cell, image.shape[1] // cell
    votes = np.zeros((*image.shape, bins), dtype=np.float32)
    y, x = np.indices(image.shape)
    votes[y, x, low] += magnitude * (1 - weight_high)
    votes[y, x, (low + 1) % bins] += magnitude * weight_high
    cells = votes[:rows * cell, :cols * cell].reshape(rows, cell, cols, cell, bins).sum(axis=(1, 3))
    blocks = []
    for r in range(rows - block + 1):
        for c in range(cols - block + 1):
            v = cells[r:r + block, c:c + block].ravel()
            v = v / np.sqrt((v ** 2).sum() + 1e-6)
            v = np.minimum(v, 0.2)
            blocks.append(v / np.sqrt((v ** 2).sum() + 1e-6))
    return np.concatenate(blocks).astype(np.float32)


def _uniform_table() -> np.ndarray:
    """LBP code (0..255) → uniform-pattern label (58 uniform codes, 58 for every other)."""
    table = np.full(256, 58, dtype=np.int64)
    label = 0
    for code in range(256):
        bits = [(code >> k) & 1 for k in range(8)]
        if sum(bits[k] != bits[(k + 1) % 8] for k in range(8)) <= 2:
            table[code] = label
            label += 1
    return table


_UNIFORM = _uniform_table()


def lbp(image: np.ndarray, grid: int = 2) -> np.ndarray:
    """Uniform LBP (8 neighbours, radius 1) histograms: the whole image and each cell of a grid×grid."""
    centre = image[1:-1, 1:-1]
    code = np.zeros(centre.shape, dtype=np.int64)
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        neighbour = image[1 + dy:image.shape[0] - 1 + dy, 1 + dx:image.shape[1] - 1 + dx]
        code |= (neighbour >= centre).astype(np.int64) << bit
    labels = _UNIFORM[code]
    parts = [labels] + [part for band in np.array_split(labels, grid, axis=0)
                        for part in np.array_split(band, grid, axis=1)]
    return np.concatenate([np.bincount(p.ravel(), minlength=59) / max(1, p.size) for p in parts]).astype(np.float32)


def intensity(image: np.ndarray, bins: int = 32) -> np.ndarray:
    """Intensity histogram and summary statistics (mean, std, percentiles)."""
    histogram = np.histogram(image, bins=bins, range=(0.0, 1.0))[0] / image.size
    stats = [image.mean(), image.std(), *np.percentile(image, [1, 5, 25, 50, 75, 95, 99])]
    return np.concatenate([histogram, stats]).astype(np.float32)


def residual(image: np.ndarray, sigma: float = 4.0, grid: int = 4) -> np.ndarray:
    """Local contrast: the image less a blurred copy (spots, scratches and cracks stand out); its percentiles,
    and the darkest and brightest residual and the strongest gradient in each cell of a grid×grid."""
    local = image - ndimage.gaussian_filter(image, sigma)
    edges = ndimage.gaussian_gradient_magnitude(image, 1.0)
    stats = [*np.percentile(local, [0.1, 1, 5, 50, 95, 99, 99.9]), np.abs(local).mean(), local.std(),
             *np.percentile(edges, [50, 90, 99, 99.9])]
    cells = []
    for band, edge_band in zip(np.array_split(local, grid, axis=0), np.array_split(edges, grid, axis=0),
                               strict=True):
        for part, edge in zip(np.array_split(band, grid, axis=1), np.array_split(edge_band, grid, axis=1),
                              strict=True):
            cells += [part.min(), part.max(), edge.max()]
    return np.asarray(stats + cells, dtype=np.float32)


@dataclass(frozen=True)
class ClassicalFeatures:
    """HOG + LBP + intensity + residual features of grayscale images at `size`×`size`."""

    size: int = 128
    hog_cell: int = 16

    def one(self, pixels: np.ndarray) -> np.ndarray:
        """The feature vector of one image (uint8 H×W or H×W×3)."""
        image = square(pixels, self.size)
        half = square(pixels, self.size // 2)
        return np.concatenate([hog(image, cell=self.hog_cell), hog(half, cell=self.hog_cell // 2),
                               lbp(image), lbp(half, grid=1), intensity(image), residual(image),
                               residual(half, sigma=2.0, grid=2)])

    def transform(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """One row of features per image."""
        return np.stack([self.one(p) for p in images]) if len(images) else np.zeros((0, self.dimension))

    @property
    def dimension(self) -> int:
        return int(self.one(np.zeros((self.size, self.size), dtype=np.uint8)).shape[0])
