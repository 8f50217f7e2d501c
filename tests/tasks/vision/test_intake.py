"""Image sources: class folders, archives and CSV/Excel lists; bad files listed by name with the reason; masks
beside their images; duplicates removed (or kept together) before a stratified split."""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mofang.core.errors import DataError
from mofang.tasks.vision.card import image_card
from mofang.tasks.vision.intake import read_images, split
from tests.tasks.vision.conftest import copy_subset, magnetic_tile

CLASSES = ("MT_Blowhole", "MT_Crack", "MT_Free")


@pytest.fixture()
def messy(tmp_path: Path) -> Path:
    """Three real classes (4 images each, with masks) plus every kind of bad or duplicate file; the clean
    read's class counts are in `counts.txt` beside it."""
    root = copy_subset(tmp_path / "tiles", 4, classes=CLASSES)
    clean = Counter(read_images(root).labels)  # the real tiles may hold near duplicates of their own
    (tmp_path / "counts.txt").write_text(repr(dict(clean)), encoding="utf-8")
    crack, free = root / "MT_Crack", root / "MT_Free"
    real = sorted(crack.glob("*.jpg"))[0]
    (crack / "zero.jpg").write_bytes(b"")
    (crack / "notes.jpg").write_text("not a picture, only a name", encoding="utf-8")
    (crack / "cut.jpg").write_bytes(real.read_bytes()[:3000])
    (crack / "README.txt").write_text("how the photos were taken", encoding="utf-8")
    shutil.copy(real, crack / "zz_copy.jpg")  # exact duplicate
    shutil.copy(sorted(free.glob("*.jpg"))[0], crack / "zz_free_again.jpg")  # the same image under two labels
    Image.open(sorted(free.glob("*.jpg"))[1]).save(free / "zz_reencoded.jpg", quality=60)  # near duplicate
    rgba = np.zeros((64, 48, 4), dtype=np.uint8)
    rgba[..., 1], rgba[:32, :, 3] = 180, 255
    Image.fromarray(rgba, "RGBA").save(free / "alpha.png")
    Image.new("L", (10_000, 10_000)).save(free / "huge.png")
    noisy = bytearray(real.read_bytes())  # a block of its image data overwritten by noise
    noisy[len(noisy) // 2:len(noisy) // 2 + 512] = np.random.default_rng(1).integers(0, 256, 512, np.uint8).tobytes()
    (crack / "noise.jpg").write_bytes(bytes(noisy))
    (root / "loose.jpg").write_bytes(real.read_bytes())  # no class folder
    return root


def reasons(images) -> dict[str, str]:
    return {Path(s["name"]).name: s["reason"] for s in images.skipped}


def test_a_class_folder_tree_lists_bad_files_and_removes_duplicates(messy: Path) -> None:
    images = read_images(messy)
    skipped = reasons(images)
    assert skipped["zero.jpg"] == "empty file (0 bytes)"
    assert skipped["notes.jpg"].startswith("not an image")
    assert skipped["cut.jpg"].startswith("truncated image data")
    assert skipped["README.txt"] == "not an image file type (.txt)"
    assert skipped["noise.jpg"].startswith("corrupt image data")
    assert skipped["huge.png"].startswith("10,000×10,000 = 100,000,000 pixels is above the limit of 50,000,000")
    kinds = {Path(s["name"]).name: s["kind"] for s in images.skipped}
    assert {name: kinds[name] for name in ("zero.jpg", "notes.jpg", "cut.jpg", "noise.jpg", "huge.png")} == {
        "zero.jpg": "empty", "notes.jpg": "not-an-image", "cut.jpg": "truncated", "noise.jpg": "corrupt",
        "huge.png": "too-large"}
    card, _ = image_card(images)  # every one listed in the data card with its kind
    assert {Path(s["name"]).name for s in card["skipped"]} >= set(kinds)
    assert card["skipped_kinds"]["too-large"] == 1 and card["skipped_kinds"]["empty"] == 1
    assert any(n["name"].endswith("alpha.png") and "alpha channel flattened" in n["note"] for n in card["notes"])
    assert "100,000,000 pixels is above the limit" in skipped["huge.png"]
    assert skipped["loose.jpg"].startswith("no label")
    removed = {Path(d["removed"]).name: d for d in images.duplicates}
    assert removed["zz_copy.jpg"]["kind"] == "exact" and removed["zz_copy.jpg"]["reason"].startswith("exact")
    assert removed["zz_reencoded.jpg"]["kind"] == "near"
    conflict = [d for d in images.duplicates if "different labels" in d["reason"]]
    assert len(conflict) == 2 and {Path(d["removed"]).name for d in conflict} >= {"zz_free_again.jpg"}
    clean = eval((messy.parent / "counts.txt").read_text(encoding="utf-8"))
    clean["MT_Free"] += 1 - 1  # alpha.png in, the image also filed under MT_Crack out
    assert Counter(images.labels) == clean
    alpha = next(r for r in images.records if r.name.endswith("alpha.png"))
    assert alpha.mode == "RGBA" and alpha.pixels.shape == (64, 48, 3) and alpha.mask is None
    assert "alpha channel flattened onto white" in alpha.notes
    real = [r for r in images.records if r.name.endswith(".jpg")]
    assert real and all(r.mask is not None and r.mask.shape == r.pixels.shape for r in real)
    assert any(r.mask.any() for r in real if r.label == "MT_Crack")
    assert not any(r.name.endswith(".png") and r.name[:-4] + ".jpg" in {x.name for x in real}
                   for r in images.records)  # masks are never read as images
    assert images.channels == 3 and images.classes == sorted(CLASSES)


def test_archives_read_like_the_folder(messy: Path, tmp_path: Path) -> None:
    shutil.rmtree(messy / "MT_Free")  # keep it quick: no 10,000² PNG to pack
    (messy / "loose.jpg").unlink()
    folder = read_images(messy)
    packed = tmp_path / "tiles.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        for file in sorted(messy.rglob("*")):
            archive.write(file, Path("export") / file.relative_to(messy))
    tarred = tmp_path / "tiles.tar.gz"
    with tarfile.open(tarred, "w:gz") as archive:
        archive.add(messy, arcname="export")
    for source in (packed, tarred):
        images = read_images(source)
        assert Counter(images.labels) == Counter(folder.labels)
        assert {Path(s["name"]).name for s in images.skipped} == {Path(s["name"]).name for s in folder.skipped}
        assert sum(r.mask is not None for r in images.records) == sum(r.mask is not None for r in folder.records)


def test_a_csv_list_with_masks_and_an_excel_list(tmp_path: Path) -> None:
    root = copy_subset(tmp_path / "tiles", 3, classes=("MT_Crack", "MT_Free"))
    rows = []
    for image in sorted(root.rglob("*.jpg")):
        rows.append({"path": image.relative_to(tmp_path).as_posix(), "label": image.parent.name.lower(),
                     "mask": image.with_suffix(".png").relative_to(tmp_path).as_posix()})
    rows[0]["mask"] = ""  # the mask beside it is still found
    rows[1]["mask"] = "tiles/nowhere.png"
    rows.append({"path": "tiles/missing.jpg", "label": "mt_crack", "mask": ""})
    rows.append({"path": rows[2]["path"].replace(".jpg", "_copy.jpg"), "label": "", "mask": ""})
    shutil.copy(tmp_path / rows[2]["path"], tmp_path / rows[-1]["path"])
    pd.DataFrame(rows).to_csv(tmp_path / "list.csv", index=False)
    images = read_images(tmp_path / "list.csv")
    assert Counter(images.labels) == {k.lower(): v for k, v in Counter(read_images(root).labels).items()}
    assert all(r.mask is not None for r in images.records if r.name != rows[1]["path"])
    assert images.mask_problems == [{"name": rows[1]["path"], "reason": "mask file 'tiles/nowhere.png' not found"}]
    skipped = reasons(images)
    assert skipped["missing.jpg"] == "file not found" and skipped[Path(rows[-1]["path"]).name].startswith("no label")
    pd.DataFrame(rows).rename(columns={"path": "Path", "label": "Label"}).to_excel(tmp_path / "list.xlsx",
                                                                                  index=False)
    assert Counter(read_images(tmp_path / "list.xlsx").labels) == Counter(images.labels)
    pd.DataFrame({"file": ["a.jpg"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match="the list needs a 'path' column"):
        read_images(tmp_path / "bad.csv")


def test_sources_without_usable_images_are_refused_with_the_reasons(tmp_path: Path) -> None:
    (tmp_path / "empty" / "good").mkdir(parents=True)
    (tmp_path / "empty" / "good" / "a.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=r"no usable labelled image found \(1× empty file"):
        read_images(tmp_path / "empty")
    with pytest.raises(DataError, match="file or folder not found"):
        read_images(tmp_path / "nowhere")
    with pytest.raises(DataError, match="not a readable zip archive"):
        (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 not really")
        read_images(tmp_path / "broken.zip")


def test_one_tiles_exposures_are_near_duplicates_kept_together_by_the_split(tmp_path: Path) -> None:
    source = magnetic_tile() / "MT_Free"
    exposures = [source / f"exp{k}_num_{n}.jpg" for k, n in enumerate((266790, 266815, 266831, 266844, 266861,
                                                                        266888), start=1)]
    others = sorted(source.glob("exp1_num_1*.jpg"))[:10]
    target = tmp_path / "tiles" / "MT_Free"
    target.mkdir(parents=True)
    for image in exposures + others:
        shutil.copy(image, target / image.name)
    cracks = copy_subset(tmp_path / "tiles", 10, classes=("MT_Crack",), masks=False)
    assert len(exposures) == 6
    removed = {Path(d["removed"]).name for d in read_images(tmp_path / "tiles").duplicates}
    assert {e.name for e in exposures[1:]} <= removed and exposures[0].name not in removed
    grouped = read_images(cracks, duplicates="group")
    copied = len(list((tmp_path / "tiles").rglob("*.jpg")))
    assert len(grouped.records) == copied and not grouped.duplicates
    groups = [r.group for r in grouped.records]
    assert {g for r, g in zip(grouped.records, groups, strict=True) if Path(r.name).name in
            {e.name for e in exposures}} == {f"MT_Free/{exposures[0].name}"}
    for seed in range(5):
        train, test = split(grouped.labels, test_size=0.25, seed=seed, groups=groups)
        assert len(set(train) | set(test)) == len(groups) and not set(train) & set(test)
        for group in {g for g in groups if g}:
            assert len({i in set(train) for i, g in enumerate(groups) if g == group}) == 1
        assert Counter(np.asarray(grouped.labels)[test]).keys() == {"MT_Free", "MT_Crack"}


def test_the_split_is_stratified_and_seeded() -> None:
    labels = ["good"] * 80 + ["crack"] * 15 + ["fray"] * 5 + ["alone"]
    train, test = split(labels, seed=3)
    assert split(labels, seed=3)[1].tolist() == test.tolist() and split(labels, seed=4)[1].tolist() != test.tolist()
    assert Counter(np.asarray(labels)[test]) == {"good": 16, "crack": 3, "fray": 1}
    assert 100 in train  # a class of one image stays in train
