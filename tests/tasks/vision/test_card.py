"""The data card's image section: counts, sizes, channels, masks, skipped files, duplicates, contact sheets."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from PIL import Image

from mofang.tasks.vision.card import contact_sheet, image_card
from mofang.tasks.vision.intake import read_images
from tests.tasks.vision.conftest import copy_subset


def test_the_card_counts_what_was_read_and_draws_a_sheet_per_class(tmp_path: Path) -> None:
    root = copy_subset(tmp_path / "tiles", 5, classes=("MT_Crack", "MT_Free"))
    first = sorted((root / "MT_Crack").glob("*.jpg"))[0]
    shutil.copy(first, root / "MT_Crack" / "zz_copy.jpg")
    (root / "MT_Free" / "broken.jpg").write_bytes(b"\xff\xd8 nothing more")
    images = read_images(root)
    card, figures = image_card(images, per_class=4, thumb=64)
    assert card["images"] == len(images.records) and sum(card["classes"].values()) == card["images"]
    assert card["masks"] == card["images"] and card["masks_by_class"]["MT_Crack"] == card["classes"]["MT_Crack"]
    assert card["channels"] == {"grayscale": card["images"]} and card["formats"] == {"JPEG": card["images"]}
    assert card["width"]["min"] <= card["width"]["median"] <= card["width"]["max"]
    assert sum(card["height"]["counts"]) == card["images"]
    assert card["skipped_count"] == 1 and card["skipped"][0]["name"] == "MT_Free/broken.jpg"
    assert card["duplicates_removed"]["exact"] == 1
    assert any(d["removed"] == "MT_Crack/zz_copy.jpg" for d in card["duplicates"])
    titles = [title for title, _ in figures]
    assert titles[:3] == ["Images per class", "Image sizes (pixels)", "Channels"]
    assert {"Samples: MT_Crack", "Samples: MT_Free"} <= set(titles)
    for _, png in figures:
        assert png.startswith(b"\x89PNG")
    sheet = Image.open(io.BytesIO(dict(figures)["Samples: MT_Crack"]))
    shown = min(4, card["classes"]["MT_Crack"])
    assert sheet.size == (shown * 68 + 4, 68 + 4 + 18)  # the tiles in one row, under the title
    red = (sheet.convert("RGB").getchannel("R").point(lambda v: v > 200).getbbox())
    assert red is not None  # the crack's mask is outlined


def test_a_contact_sheet_samples_a_large_class(tmp_path: Path) -> None:
    root = copy_subset(tmp_path / "tiles", 9, classes=("MT_Free",), masks=False)
    images = read_images(root, duplicates="keep")
    png = contact_sheet(images, "MT_Free", per_class=6, thumb=32, columns=3)
    assert Image.open(io.BytesIO(png)).size == (3 * 36 + 4, 2 * 36 + 4 + 18)
