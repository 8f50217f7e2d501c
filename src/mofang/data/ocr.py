"""Text from pictures of pages by OCR: image bytes → text lines in reading order, with a per-page confidence.

The engine is rapidocr-onnxruntime (PP-OCR text detection and recognition on onnxruntime, CPU; its Chinese and
English models ship inside the wheel, so nothing is downloaded). One engine per process, built when first used,
with a bounded number of threads; results are cached by the image's sha256, so a source read at admission and
again at ingest is recognised once.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from mofang.core.errors import DataError
from mofang.data.limits import Limits, over

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
ENGINE = "rapidocr-onnxruntime"
LOW_CONFIDENCE = 0.8  # a page whose mean line score is below this (or with no text found) is listed in the card
MAX_THREADS = 4  # onnxruntime threads of the one engine
CACHE_PAGES = 2048  # recognised images kept in memory, by sha256
_CJK = re.compile(r"[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
                  r"\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")
_SPACE_IN_CJK = re.compile(rf"(?<={_CJK.pattern})\s+(?={_CJK.pattern})")
_LOCK = threading.Lock()
_ENGINE: Any = None
_CACHE: OrderedDict[str, list[PageText]] = OrderedDict()


class UnreadableImage(DataError):
    """An image that cannot be decoded, or is over the pixel limit: document readers list it and go on."""


@dataclass(frozen=True)
class PageText:
    """One page's text (lines joined by newlines), how many lines were read and their mean score (None: no text)."""

    text: str
    lines: int
    confidence: float | None


def read_image(data: bytes, *, source: str, limit: Limits) -> list[PageText]:
    """Every page of an image file (a TIFF's frames), recognised; UnreadableImage when it cannot be decoded."""
    key = hashlib.sha256(data).hexdigest()
    cached = _cached(key)
    if cached is not None:
        return cached
    pages = [recognize(page) for page in decode(data, source=source, limit=limit)]
    _remember(key, pages)
    return pages


def read_picture(image: Any, *, key: str, source: str, limit: Limits) -> PageText:
    """One decoded PIL image (a PDF page's embedded scan), recognised; `key` identifies it in the cache."""
    cached = _cached(key)
    if cached is not None:
        return cached[0]
    check_pixels(image.width * image.height, source, limit)
    page = recognize(to_array(image, source))
    _remember(key, [page])
    return page


def decode(data: bytes, *, source: str, limit: Limits) -> list[np.ndarray]:
    """The pages of an image file as BGR arrays (transparency over white), the pixel limit checked before decoding."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise UnreadableImage("the file is empty (0 bytes)", source=source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked instead
            with Image.open(io.BytesIO(data)) as image:
                frames = getattr(image, "n_frames", 1)
                check_pixels(image.width * image.height * frames, source, limit)
                pages = []
                for frame in range(frames):
                    image.seek(frame)
                    pages.append(to_array(image, source))
                return pages
    except UnidentifiedImageError:
        raise UnreadableImage("not an image (no image format recognises its bytes)", source=source) from None
    except DataError:
        raise
    except Exception as exc:  # Pillow raises OSError (truncated), ValueError, SyntaxError, EOFError... for bad files
        raise UnreadableImage(f"a broken image ({type(exc).__name__}: {exc})", source=source) from None


def check_pixels(pixels: int, source: str, limit: Limits) -> None:
    """Refuse an image over `image_pixels` before it is decoded."""
    if pixels > limit.image_pixels:
        raise UnreadableImage(over(limit, "image_pixels", f"the image has {pixels:,} pixels"), source=source)


def to_array(image: Any, source: str) -> np.ndarray:
    """A PIL image as a BGR uint8 array: transparency over white, 16-bit and float scaled, palettes and CMYK to RGB."""
    from PIL import Image

    image.load()
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = float(values.max()) if values.size else 0.0
        image = Image.fromarray((values / top * 255 if top > 0 else values).clip(0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        white.alpha_composite(rgba)
        image = white
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if rgb.ndim != 3 or min(rgb.shape[:2]) < 1:
        raise UnreadableImage(f"an image of no pixels ({image.width} × {image.height})", source=source)
    return np.ascontiguousarray(rgb[:, :, ::-1])


def recognize(image: np.ndarray) -> PageText:
    """OCR of one page: its lines in reading order and their mean score."""
    with _LOCK:  # one engine per process; its calls are not made thread-safe by the library
        result, _ = engine()(image, use_cls=False)  # pages are upright; the 180° classifier flips English lines
    items = [(box, str(text), float(score)) for box, text, score in result or [] if str(text).strip()]
    lines = reading_order(items)
    confidence = round(sum(s for _, _, s in items) / len(items), 4) if items else None
    return PageText("\n".join(lines), len(lines), confidence)


def reading_order(items: list[tuple[Any, str, float]]) -> list[str]:
    """Text boxes (four corner points, text, score) grouped into lines top to bottom, each left to right; boxes of
    one line are joined by a space unless both sides are CJK characters."""
    boxes = []
    for box, text, _ in items:
        points = np.asarray(box, dtype=np.float64).reshape(-1, 2)
        boxes.append((points[:, 0].min(), points[:, 1].min(), points[:, 1].max(), text))
    boxes.sort(key=lambda b: ((b[1] + b[2]) / 2, b[0]))
    rows: list[list[tuple[float, float, float, str]]] = []
    for box in boxes:
        if rows and any(_same_line(box, other) for other in rows[-1]):
            rows[-1].append(box)
        else:
            rows.append([box])
    lines = []
    for row in rows:
        line = ""
        for _, _, _, text in sorted(row, key=lambda b: b[0]):
            text = _SPACE_IN_CJK.sub("", text.strip())
            line = text if not line else line + join_gap(line, text) + text
        lines.append(line)
    return lines


def join_gap(left: str, right: str) -> str:
    """What goes between two pieces of one line: nothing between CJK characters, else a space."""
    return "" if _CJK.match(left[-1]) and _CJK.match(right[0]) else " "


def engine() -> Any:
    """The process's one OCR engine, built on first use (about half a second)."""
    global _ENGINE
    if _ENGINE is None:
        from rapidocr_onnxruntime import RapidOCR

        threads = max(1, min(MAX_THREADS, len(os.sched_getaffinity(0))))
        _ENGINE = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1, use_cls=False)
    return _ENGINE


def engine_name() -> str:
    """The engine and its version, for the data card."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{ENGINE} {version(ENGINE)}"
    except PackageNotFoundError:
        return ENGINE


def _same_line(a: tuple[float, float, float, str], b: tuple[float, float, float, str]) -> bool:
    """Whether two boxes overlap vertically by at least half the smaller one's height."""
    overlap = min(a[2], b[2]) - max(a[1], b[1])
    return overlap >= 0.5 * max(1.0, min(a[2] - a[1], b[2] - b[1]))


def _cached(key: str) -> list[PageText] | None:
    with _LOCK:
        pages = _CACHE.get(key)
        if pages is not None:
            _CACHE.move_to_end(key)
        return pages


def _remember(key: str, pages: list[PageText]) -> None:
    with _LOCK:
        _CACHE[key] = pages
        while len(_CACHE) > CACHE_PAGES:
            _CACHE.popitem(last=False)
