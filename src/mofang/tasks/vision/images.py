"""One image file in, pixels out: decoding with Pillow behind guards (empty, truncated, corrupt, not an image,
a decompression bomb, alpha, 16-bit, palettes; in `portable`, which the edge runner shares), masks, and
perceptual hashes for duplicate search.

Every failure is an `ImageProblem` (a named subclass per case) whose message says what is wrong with the file,
never a traceback."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image
from scipy.fft import dctn

from mofang.tasks.vision.portable import (  # noqa: F401 - re-exported: the decoding is the edge runner's too
    MAX_PIXELS,
    MAX_SIDE,
    CorruptImage,
    Decoded,
    EmptyImage,
    ImageProblem,
    ImageTooLarge,
    NotAnImage,
    TruncatedImage,
    UnsupportedImage,
    decode_image,
    gray,
    jpeg_damage,
    resized,
)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})


def decode_mask(data: bytes, size: tuple[int, int], original: tuple[int, int]) -> np.ndarray:
    """A defect mask (non-zero = defect) as a bool H×W array at the image's working `size` (width, height).
    Its own size must match the image's `original` size. Raises ImageProblem."""
    mask = decode_image(data, max_side=max(original))
    if (mask.width, mask.height) != tuple(original):
        raise ImageProblem(f"mask is {mask.width}×{mask.height}, the image {original[0]}×{original[1]}")
    gray = mask.pixels if mask.pixels.ndim == 2 else mask.pixels.max(axis=2)
    if gray.shape[::-1] != tuple(size):
        gray = np.asarray(Image.fromarray(gray).resize(size, Image.Resampling.NEAREST))
    return gray > 127 if gray.max() > 1 else gray > 0


def content_hash(pixels: np.ndarray) -> str:
    """SHA-256 of the decoded pixels and their shape: the same picture saved as JPEG or PNG twice is equal."""
    digest = hashlib.sha256(str(pixels.shape).encode())
    digest.update(np.ascontiguousarray(pixels).tobytes())
    return digest.hexdigest()


def dhash(pixels: np.ndarray, size: int = 8) -> int:
    """Difference hash: `size`² bits, each whether a pixel is brighter than its right neighbour at
    (size+1)×size."""
    small = resized(gray(pixels), (size + 1, size), Image.Resampling.LANCZOS).astype(np.int16)
    return _bits(small[:, 1:] > small[:, :-1])


def phash(pixels: np.ndarray, size: int = 8, scale: int = 4) -> int:
    """Perceptual hash: the signs of the lowest `size`×`size` DCT coefficients of a (size·scale)² thumbnail
    against their median (the DC term excluded from the median)."""
    side = size * scale
    small = resized(gray(pixels), (side, side), Image.Resampling.LANCZOS).astype(np.float64)
    low = dctn(small, norm="ortho")[:size, :size]
    return _bits(low > np.median(low.ravel()[1:]))


def hamming(a: int, b: int) -> int:
    """Bits that differ between two hashes."""
    return (a ^ b).bit_count()


def _bits(flags: np.ndarray) -> int:
    value = 0
    for bit in flags.ravel():
        value = (value << 1) | int(bit)
    return value
