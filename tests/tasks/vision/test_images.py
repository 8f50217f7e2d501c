"""Decoding one image file: every bad file gets a named reason, never a traceback; alpha, 16-bit and huge
images are handled; perceptual hashes see a re-encoded image as the same one."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from mofang.tasks.vision.images import (
    MAX_PIXELS,
    MAX_SIDE,
    CorruptImage,
    EmptyImage,
    ImageProblem,
    ImageTooLarge,
    NotAnImage,
    TruncatedImage,
    content_hash,
    decode_image,
    decode_mask,
    dhash,
    hamming,
    jpeg_damage,
    phash,
)
from tests.tasks.vision.conftest import magnetic_tile


def encoded(image: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def tile_bytes() -> bytes:
    return sorted((magnetic_tile() / "MT_Crack").glob("*.jpg"))[0].read_bytes()


def test_a_real_grayscale_jpeg_stays_one_channel() -> None:
    decoded = decode_image(tile_bytes())
    assert decoded.format == "JPEG" and decoded.mode == "L" and decoded.channels == 1
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape == (decoded.height, decoded.width)
    assert decoded.notes == ()


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty file (0 bytes)"),
    (b"%PDF-1.4 this is a document with a .jpg name", "not an image: the content is no known image format"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "not an image"),  # a JPEG's first bytes, then nothing
])
def test_bad_files_get_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageProblem, match=re.escape(reason)):
        decode_image(data)


def test_a_truncated_jpeg_is_named_truncated() -> None:
    data = tile_bytes()
    with pytest.raises(ImageProblem, match="truncated"):
        decode_image(data[:len(data) // 2])


def test_a_png_with_alpha_is_flattened_onto_white() -> None:
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:, :15, 3] = 255  # the right half is transparent
    decoded = decode_image(encoded(Image.fromarray(rgba, "RGBA")))
    assert decoded.mode == "RGBA" and decoded.channels == 3
    assert "alpha channel flattened onto white" in decoded.notes
    assert tuple(decoded.pixels[0, 0]) == (200, 0, 0) and tuple(decoded.pixels[0, 29]) == (255, 255, 255)


def test_sixteen_bit_images_are_scaled_to_eight_bits() -> None:
    ramp = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    decoded = decode_image(encoded(Image.fromarray(ramp)))
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.min() == 0 and decoded.pixels.max() == 255
    assert any("8 bits" in n for n in decoded.notes)


def test_a_ten_thousand_pixel_square_png_is_refused_before_decoding() -> None:
    huge = encoded(Image.new("L", (10_000, 10_000)))
    with pytest.raises(ImageProblem, match=r"10,000×10,000 = 100,000,000 pixels is above the limit"):
        decode_image(huge)


def test_a_ten_thousand_pixel_square_jpeg_is_decoded_at_reduced_scale() -> None:
    huge = encoded(Image.new("L", (10_000, 10_000), 128), "JPEG", quality=50)
    decoded = decode_image(huge)
    assert (decoded.width, decoded.height) == (10_000, 10_000)
    assert max(decoded.pixels.shape) == MAX_SIDE
    assert any("reduced scale" in n for n in decoded.notes) and any("downscaled" in n for n in decoded.notes)


def test_masks_are_bool_at_the_images_working_size() -> None:
    picture = np.zeros((40, 60), dtype=np.uint8)
    picture[10:20, 5:15] = 255
    mask = decode_mask(encoded(Image.fromarray(picture)), (30, 20), (60, 40))
    assert mask.dtype == bool and mask.shape == (20, 30) and mask[7, 5] and not mask[0, 0]
    with pytest.raises(ImageProblem, match="mask is 60×40, the image 50×40"):
        decode_mask(encoded(Image.fromarray(picture)), (50, 40), (50, 40))


def test_hashes_match_a_reencoded_copy_and_differ_from_another_image() -> None:
    tiles = sorted((magnetic_tile() / "MT_Free").glob("*.jpg"))
    first = decode_image(tiles[0].read_bytes()).pixels
    again = decode_image(encoded(Image.fromarray(first), "JPEG", quality=80)).pixels
    other = np.ascontiguousarray(first[::-1, ::-1])  # the same texture turned upside down
    assert hamming(phash(first), phash(again)) <= 2 and hamming(dhash(first), dhash(again)) <= 4
    assert hamming(phash(first), phash(other)) > 10 and hamming(dhash(first), dhash(other)) > 10
    assert content_hash(first) == content_hash(first.copy()) != content_hash(other)


def test_each_bad_file_is_a_named_problem() -> None:
    data = tile_bytes()
    noisy = bytearray(data)  # a block of the image data overwritten by noise: Pillow alone decodes it silently
    noisy[len(data) // 2:len(data) // 2 + 512] = np.random.default_rng(1).integers(0, 256, 512, np.uint8).tobytes()
    cases = [(b"", EmptyImage, "empty"), (b"GIF89a? no, a text file", NotAnImage, "not-an-image"),
             (data[:len(data) // 2], TruncatedImage, "truncated"), (bytes(noisy), CorruptImage, "corrupt"),
             (encoded(Image.new("L", (200, 100))), ImageTooLarge, "too-large")]
    for payload, kind, name in cases:
        with pytest.raises(kind) as caught:
            decode_image(payload, max_pixels=10_000)
        assert caught.value.kind == name and isinstance(caught.value, ImageProblem)
    with pytest.raises(ImageTooLarge, match=r"200×100 = 20,000 pixels is above the limit of 10,000"):
        decode_image(encoded(Image.new("L", (200, 100))), max_pixels=10_000)
    assert MAX_PIXELS == 50_000_000  # the named default of the guard (the order's vision.max_pixels)


def test_every_real_tile_passes_the_jpeg_marker_check() -> None:
    tiles = sorted(magnetic_tile().rglob("*.jpg"))
    assert len(tiles) > 1000 and not [t.name for t in tiles if jpeg_damage(t.read_bytes())]
