"""What an image goes through before a model sees it, in numpy and Pillow only: file bytes → pixels (decoding
behind guards), pixels → classical features, pixels → a network's input, and the decision on probabilities.

The factory (`images`, `features`, `cnn`, `metrics`) and the edge runner use this one module, so an edge bundle
computes what the served product computes. It imports nothing but the standard library, numpy and Pillow: the
edge bundle ships it as `mofang_vision.py` beside its runner. Every decoding failure is an `ImageProblem` (a
named subclass per kind) whose message is the reason, never a traceback."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 50_000_000  # the decompression-bomb guard: refused above this from the header alone
MAX_SIDE = 1024  # the longer side kept in memory; larger images are downscaled (and said so)
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


# -- decoding ------------------------------------------------------------------------------------------------
class ImageProblem(ValueError):
    """A file that cannot be used as an image; the message is the reason, `kind` names the case."""

    kind = "unusable"


class EmptyImage(ImageProblem):
    """A file of 0 bytes."""

    kind = "empty"


class NotAnImage(ImageProblem):
    """Content in no image format Pillow reads (a document or text with an image's name)."""

    kind = "not-an-image"


class CorruptImage(ImageProblem):
    """An image whose header or data is damaged."""

    kind = "corrupt"


class TruncatedImage(CorruptImage):
    """An image whose data ends early."""

    kind = "truncated"


class UnsupportedImage(ImageProblem):
    """An image whose pixel mode cannot be turned into grayscale or RGB."""

    kind = "unsupported"


class ImageTooLarge(ImageProblem):
    """More pixels than the decompression-bomb guard allows (`max_pixels`)."""

    kind = "too-large"


@dataclass
class Decoded:
    """Pixels of one image: uint8, H×W (grayscale) or H×W×3 (RGB), at most MAX_SIDE on the longer side."""

    pixels: np.ndarray
    width: int  # as stored in the file
    height: int
    mode: str  # Pillow's mode in the file: "L", "RGB", "RGBA", "P", "I;16", ...
    format: str  # "JPEG", "PNG", ...
    notes: tuple[str, ...] = ()  # what was done to it: alpha flattened, downscaled, first frame only

    @property
    def channels(self) -> int:
        return 1 if self.pixels.ndim == 2 else 3


def decode_image(data: bytes, *, max_pixels: int = MAX_PIXELS, max_side: int = MAX_SIDE) -> Decoded:
    """Decode image bytes. Alpha is flattened onto white, palettes and CMYK become RGB, 16-bit and float
    images are scaled to 8 bits, grayscale stays one channel. An image of more than `max_pixels` pixels is
    refused (ImageTooLarge) — a JPEG is first decoded at a reduced scale (1/2 to 1/8) when that brings it under
    the limit; one whose longer side exceeds `max_side` is downscaled. A JPEG whose data holds markers no
    encoder writes is refused as corrupt. Raises an ImageProblem with the reason."""
    if not data:
        raise EmptyImage("empty file (0 bytes)")
    with warnings.catch_warnings():
        # Pillow warns above its own MAX_IMAGE_PIXELS and refuses at twice that; the pixel count is checked here
        # against `max_pixels` before decoding, and a JPEG may still be decoded at a reduced scale
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise NotAnImage(f"not an image: the content is no known image format (starts with {data[:8]!r})") \
                from None
        except Image.DecompressionBombError as exc:
            raise ImageTooLarge(f"refused as a possible decompression bomb: {exc}") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise CorruptImage(f"unreadable image header ({exc})") from None
        width, height = image.size
        mode, fmt = image.mode, image.format or "unknown"
        notes: list[str] = []
        if width <= 0 or height <= 0:
            raise CorruptImage(f"the header says {width}×{height} pixels")
        if width * height > max_pixels:
            if fmt == "JPEG":
                image.draft("L" if mode == "L" else "RGB", _fitting(width, height, max_pixels, max_side))
            if image.size[0] * image.size[1] > max_pixels:
                raise ImageTooLarge(f"{width:,}×{height:,} = {width * height:,} pixels is above the limit of "
                                    f"{max_pixels:,} (a decompression-bomb guard): refused; downscale it first")
            notes.append(f"decoded at reduced scale from {width}×{height} (over {max_pixels:,} pixels)")
        if fmt == "JPEG":
            damage = jpeg_damage(data)
            if damage:
                raise CorruptImage(f"corrupt image data ({damage})")
        if getattr(image, "n_frames", 1) > 1:
            notes.append(f"first of {image.n_frames} frames")
        try:
            image.load()
        except Image.DecompressionBombError as exc:
            raise ImageTooLarge(f"refused as a possible decompression bomb: {exc}") from None
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            if "truncated" in str(exc).lower():
                raise TruncatedImage(f"truncated image data ({exc})") from None
            raise CorruptImage(f"corrupt image data ({exc})") from None
    try:
        image = ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - a broken EXIF block leaves the pixels as stored
        pass
    try:
        pixels = _bounded(_to_uint8(image, notes), max_side, notes)
    except (ValueError, OSError, TypeError) as exc:
        raise UnsupportedImage(f"unsupported image ({mode} pixels: {exc})") from None
    return Decoded(pixels=pixels, width=width, height=height, mode=mode, format=fmt, notes=tuple(notes))


def _fitting(width: int, height: int, max_pixels: int, max_side: int) -> tuple[int, int]:
    """The size to ask a JPEG draft for: the strongest of its reductions (1/2, 1/4, 1/8) that still leaves the
    longer side at least `max_side` (it is downscaled to that anyway), and at least the one that brings it under
    `max_pixels`."""
    fits = [s for s in (2, 4, 8) if -(-width // s) * -(-height // s) <= max_pixels] or [8]
    sharp = [s for s in fits if max(width // s, height // s) >= max_side]
    chosen = max(sharp) if sharp else min(fits)
    return max(1, width // chosen), max(1, height // chosen)  # Pillow picks the reduction these sizes allow


# markers that may follow a JPEG's entropy-coded data: frames, tables, restart/end, application data, comments
_JPEG_MARKERS = frozenset({*range(0xC0, 0xD0), *range(0xD8, 0xE0), *range(0xE0, 0xF0), 0xFE})


def jpeg_damage(data: bytes) -> str | None:
    """Why a JPEG's marker structure is broken — a marker no encoder writes inside or after its image data, or a
    segment running past the end — else None. (Pillow decodes such a file without complaint into a picture of
    noise; damage that keeps the structure intact cannot be seen here.)"""
    size, at = len(data), 2
    while at < size:
        if data[at] != 0xFF:
            return f"a segment should start at byte {at:,}"
        while at < size and data[at] == 0xFF:
            at += 1
        if at >= size:
            return None
        marker = data[at]
        at += 1
        if marker == 0xD9:  # end of image (anything after it is ignored)
            return None
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # restart markers, TEM: no length
            continue
        if marker not in _JPEG_MARKERS:
            return f"invalid marker 0xFF{marker:02X} at byte {at - 2:,}"
        if at + 2 > size:
            return None  # ends inside a segment header: Pillow says truncated
        at += int.from_bytes(data[at:at + 2], "big")
        if marker != 0xDA:
            continue
        while True:  # start of scan: entropy-coded data up to the next marker (0xFF00 is a stuffed 0xFF)
            found = data.find(b"\xff", at)
            if found < 0 or found + 1 >= size:
                return None  # the data ends without a marker: Pillow says truncated
            following = data[found + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:
                at = found + 2
            elif following == 0xFF:
                at = found + 1
            elif following in _JPEG_MARKERS:
                at = found
                break
            else:
                return f"invalid marker 0xFF{following:02X} in the image data at byte {found:,}"
    return None


def _to_uint8(image: Image.Image, notes: list[str]) -> np.ndarray:
    mode = image.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        flat = Image.alpha_composite(white, rgba)
        notes.append("alpha channel flattened onto white")
        image = flat.convert("L" if mode == "LA" else "RGB")
        mode = image.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        array = np.asarray(image, dtype=np.float64)
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        notes.append(f"{mode} pixels scaled to 8 bits")
        scaled = (array - low) / (high - low) * 255 if high > low else np.zeros_like(array)
        return np.nan_to_num(scaled).round().astype(np.uint8)
    if mode in _GRAY_MODES:
        return np.asarray(image.convert("L"), dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _bounded(pixels: np.ndarray, max_side: int, notes: list[str]) -> np.ndarray:
    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return np.ascontiguousarray(pixels)
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    notes.append(f"downscaled from {width}×{height} to {size[0]}×{size[1]}")
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR))


def gray(pixels: np.ndarray) -> np.ndarray:
    """A uint8 grayscale view of H×W or H×W×3 pixels (ITU-R 601 luma)."""
    if pixels.ndim == 2:
        return pixels
    return np.asarray(Image.fromarray(pixels).convert("L"))


def resized(pixels: np.ndarray, size: tuple[int, int], resample: int = Image.Resampling.BILINEAR) -> np.ndarray:
    """Pixels resized to `size` (width, height) with Pillow."""
    if pixels.shape[1::-1] == tuple(size):
        return pixels
    return np.asarray(Image.fromarray(pixels).resize(size, resample))


def network_input(pixels: np.ndarray, size: int, channels: int) -> np.ndarray:
    """A network's input image: uint8 size×size×channels (gray repeated for 3 channels; colour averaged for 1)."""
    out = resized(pixels, (size, size))
    if out.ndim == 2:
        out = out[..., None]
    if channels == 3 and out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    if channels == 1 and out.shape[2] == 3:
        out = out.mean(axis=2, keepdims=True).astype(np.uint8)
    return out


# -- classical features ----------------------------------------------------------------------------------------
_NEIGHBOURS = ((-1, -1), (-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1))


def square(pixels: np.ndarray, size: int) -> np.ndarray:
    """Grayscale float32 in [0, 1] at size×size."""
    return resized(gray(pixels), (size, size)).astype(np.float32) / 255.0


@lru_cache(maxsize=16)
def _gaussian_kernel(sigma: float, order: int) -> np.ndarray:
    """A 1-D Gaussian (order 0) or Gaussian-derivative (order 1) kernel, truncated at 4σ."""
    radius = int(4.0 * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    if order == 1:
        kernel = kernel * offsets / sigma ** 2
    return kernel.astype(np.float32)


def _filtered(image: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """`image` correlated with `kernel` along `axis`, edges mirrored (… c b a | a b c …); plain float32
    arithmetic (no BLAS), so every machine computes the same numbers."""
    radius, length = len(kernel) // 2, image.shape[axis]
    padded = np.pad(image, [(radius, radius) if a == axis else (0, 0) for a in range(2)], mode="symmetric")
    out = np.zeros(image.shape, dtype=np.float32)
    for k, weight in enumerate(kernel):
        out += weight * (padded[k:k + length] if axis == 0 else padded[:, k:k + length])
    return out


def gaussian(image: np.ndarray, sigma: float, order: tuple[int, int] = (0, 0)) -> np.ndarray:
    """A 2-D float32 image filtered by a Gaussian of `sigma` (its derivative along an axis whose order is 1)."""
    rows = _filtered(image.astype(np.float32), _gaussian_kernel(float(sigma), order[0]), 0)
    return _filtered(rows, _gaussian_kernel(float(sigma), order[1]), 1)


def gradient_magnitude(image: np.ndarray, sigma: float) -> np.ndarray:
    """The magnitude of the Gaussian-smoothed gradient."""
    return np.hypot(gaussian(image, sigma, (1, 0)), gaussian(image, sigma, (0, 1)))


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
    local = image - gaussian(image, sigma)
    edges = gradient_magnitude(image, 1.0)
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

    def settings(self) -> dict[str, int]:
        """What rebuilds it (the edge bundle's preprocessing data)."""
        return {"size": self.size, "hog_cell": self.hog_cell}


# -- the decision ----------------------------------------------------------------------------------------------
def decide(proba: np.ndarray, classes: Sequence[str], good_class: str | None = None,
           good_min: float | None = None) -> np.ndarray:
    """Class of each row of `proba` (columns in `classes` order): the most probable one, except that with
    `good_min` an image is called good only when P(good_class) ≥ good_min — else its most probable defect."""
    proba = np.asarray(proba, dtype=float)
    names = np.asarray([str(c) for c in classes], dtype=object)
    pred = names[proba.argmax(axis=1)]
    if good_class is None or good_min is None or str(good_class) not in names or len(names) < 2:
        return pred
    good = list(names).index(str(good_class))
    defects = proba.copy()
    defects[:, good] = -1
    return np.where(proba[:, good] >= good_min, names[good], names[defects.argmax(axis=1)])
