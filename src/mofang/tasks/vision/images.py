"""One image file in, pixels out: decoding with Pillow behind guards (empty, truncated, not an image, a
decompression bomb, alpha, 16-bit, palettes), masks, and perceptual hashes for duplicate search.

Every failure is an `ImageProblem` whose message says what is wrong with the file, never a traceback."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy.fft import dctn

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"})
MAX_PIXELS = 50_000_000  # refused above this from the header alone, before anything is decoded
MAX_SIDE = 1024  # the longer side kept in memory; larger images are downscaled (and said so)
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})


class ImageProblem(ValueError):
    """A file that cannot be used as an image; the message is the reason, for the data card."""


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
    refused (a JPEG is first decoded at a reduced scale when that brings it under the limit); one whose longer
    side exceeds `max_side` is downscaled. Raises ImageProblem with the reason."""
    if not data:
        raise ImageProblem("empty file (0 bytes)")
    with warnings.catch_warnings():
        # Pillow warns above its own MAX_IMAGE_PIXELS and refuses at twice that; the pixel count is checked here
        # against `max_pixels` before decoding, and a JPEG may still be decoded at a reduced scale
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageProblem(f"not an image: the content is no known image format (starts with {data[:8]!r})") \
                from None
        except Image.DecompressionBombError as exc:
            raise ImageProblem(f"refused as a possible decompression bomb: {exc}") from None
        except (OSError, ValueError, SyntaxError) as exc:
            raise ImageProblem(f"unreadable image header ({exc})") from None
        width, height = image.size
        mode, fmt = image.mode, image.format or "unknown"
        notes: list[str] = []
        if width <= 0 or height <= 0:
            raise ImageProblem(f"the header says {width}×{height} pixels")
        if width * height > max_pixels:
            if fmt == "JPEG":
                image.draft("L" if mode == "L" else "RGB", _fitting(width, height, max_pixels))
            if image.size[0] * image.size[1] > max_pixels:
                raise ImageProblem(f"{width:,}×{height:,} = {width * height:,} pixels is above the limit of "
                                   f"{max_pixels:,} (a decompression-bomb guard): refused; downscale it first")
            notes.append(f"decoded at reduced scale from {width}×{height} (over {max_pixels:,} pixels)")
        if getattr(image, "n_frames", 1) > 1:
            notes.append(f"first of {image.n_frames} frames")
        try:
            image.load()
        except Image.DecompressionBombError as exc:
            raise ImageProblem(f"refused as a possible decompression bomb: {exc}") from None
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            reason = "truncated" if "truncated" in str(exc).lower() else "corrupt"
            raise ImageProblem(f"{reason} image data ({exc})") from None
    try:
        image = ImageOps.exif_transpose(image) or image
    except Exception:  # noqa: BLE001 - a broken EXIF block leaves the pixels as stored
        pass
    pixels = _to_uint8(image, notes)
    pixels = _bounded(pixels, max_side, notes)
    return Decoded(pixels=pixels, width=width, height=height, mode=mode, format=fmt, notes=tuple(notes))


def _fitting(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The size to ask a JPEG draft for: the mildest of its reductions (1/2, 1/4, 1/8) under `max_pixels`."""
    for scale in (2, 4, 8):
        if -(-width // scale) * -(-height // scale) <= max_pixels:
            break
    return -(-width // scale), -(-height // scale)


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
