"""The image part of the data card: class counts, image sizes and channels, masks, files skipped with the
reason, duplicates removed, and a contact sheet of samples per class — a JSON-ready dict plus (title, PNG)
figures the HTML card embeds as it does its other plots."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from mofang.core.plots import render_png
from mofang.tasks.vision.intake import ImageSet

LISTED = 200  # skipped files and duplicates named in the card (the counts are always complete)


def image_card(images: ImageSet, *, per_class: int = 12, thumb: int = 96, seed: int = 0) \
        -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    """The card's image section and its figures: class counts, size and channel histograms, one contact
    sheet per class (masks outlined in red), duplicates and unreadable files."""
    records = images.records
    classes = Counter(str(r.label) for r in records)
    widths = np.array([r.width for r in records])
    heights = np.array([r.height for r in records])
    kinds = Counter(d["kind"] for d in images.duplicates)
    card: dict[str, Any] = {
        "source": images.source,
        "images": len(records),
        "classes": dict(sorted(classes.items(), key=lambda kv: (-kv[1], kv[0]))),
        "masks": sum(r.mask is not None for r in records),
        "masks_by_class": {c: sum(r.mask is not None for r in records if str(r.label) == c) for c in classes},
        "width": _summary(widths),
        "height": _summary(heights),
        "channels": dict(Counter(_channels(r.mode) for r in records)),
        "modes": dict(Counter(r.mode for r in records)),
        "formats": dict(Counter(r.format for r in records)),
        "skipped_count": len(images.skipped),
        "skipped": images.skipped[:LISTED],
        "skipped_kinds": dict(Counter(str(s.get("kind", "unusable")) for s in images.skipped)),
        "duplicates_removed": {"exact": kinds.get("exact", 0), "near": kinds.get("near", 0)},
        "duplicates": images.duplicates[:LISTED],
        "near_duplicate_groups_kept": len({r.group for r in records if r.group}),
        "mask_problems": images.mask_problems[:LISTED],
        "notes": [{"name": r.name, "note": "; ".join(r.notes)} for r in records if r.notes][:LISTED],
    }
    figures: list[tuple[str, bytes]] = []
    if classes:
        names = list(card["classes"])
        figures.append(("Images per class", render_png(
            lambda ax: _bars(ax, names, [classes[n] for n in names], "images"), (6.0, 3.5))))
    if len(records):
        figures.append(("Image sizes (pixels)", render_png(lambda ax: _sizes(ax, widths, heights), (6.0, 3.5))))
        channels = card["channels"]
        figures.append(("Channels", render_png(
            lambda ax: _bars(ax, list(channels), list(channels.values()), "images"), (4.0, 3.0))))
    for name in card["classes"]:
        figures.append((f"Samples: {name}", contact_sheet(images, name, per_class=per_class, thumb=thumb,
                                                          seed=seed)))
    return card, figures


def _summary(values: np.ndarray) -> dict[str, Any]:
    if not len(values):
        return {}
    counts, edges = np.histogram(values, bins=min(20, max(1, len(set(values.tolist())))))
    return {"min": int(values.min()), "median": float(np.median(values)), "max": int(values.max()),
            "edges": [round(float(e), 1) for e in edges], "counts": counts.tolist()}


def _channels(mode: str) -> str:
    if mode in ("RGBA", "LA", "PA"):
        return "with alpha"
    if mode in ("1", "L", "I", "F") or mode.startswith("I;16"):
        return "grayscale"
    return "colour"


def _bars(ax: Any, labels: list[str], values: list[int], unit: str) -> None:
    ax.bar(range(len(labels)), values, color="#4C72B0")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30 if len(labels) > 4 else 0, ha="right" if len(labels) > 4 else "center")
    ax.set_ylabel(unit)
    for k, v in enumerate(values):
        ax.annotate(str(v), (k, v), ha="center", va="bottom", fontsize=8)


def _sizes(ax: Any, widths: np.ndarray, heights: np.ndarray) -> None:
    top = max(int(widths.max()), int(heights.max()))
    bins = np.linspace(0, top * 1.05 + 1, 25)
    ax.hist(widths, bins=bins, alpha=0.6, label="width")
    ax.hist(heights, bins=bins, alpha=0.6, label="height")
    ax.set_xlabel("pixels")
    ax.set_ylabel("images")
    ax.legend()


def contact_sheet(images: ImageSet, label: str, *, per_class: int = 12, thumb: int = 96, columns: int = 6,
                  seed: int = 0) -> bytes:
    """A PNG grid of up to `per_class` images of one class (a seeded sample), each fitted into a thumb×thumb
    tile with its defect mask outlined in red, under a title with the class name and count."""
    chosen = [r for r in images.records if str(r.label) == label]
    total = len(chosen)
    if total > per_class:
        rows = np.random.default_rng(seed).choice(total, size=per_class, replace=False)
        chosen = [chosen[i] for i in sorted(rows)]
    columns = max(1, min(columns, len(chosen)))
    lines = max(1, -(-len(chosen) // columns))
    header = 18
    sheet = Image.new("RGB", (columns * (thumb + 4) + 4, lines * (thumb + 4) + 4 + header), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 3), f"{label}: {len(chosen)} of {total}", fill="black")
    for k, record in enumerate(chosen):
        tile = _tile(record.pixels, record.mask, thumb)
        x = 4 + (k % columns) * (thumb + 4) + (thumb - tile.width) // 2
        y = header + 4 + (k // columns) * (thumb + 4) + (thumb - tile.height) // 2
        sheet.paste(tile, (x, y))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _tile(pixels: np.ndarray, mask: np.ndarray | None, thumb: int) -> Image.Image:
    picture = Image.fromarray(pixels).convert("RGB")
    scale = thumb / max(picture.size)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    picture = picture.resize(size, Image.Resampling.BILINEAR)
    if mask is not None and mask.any():
        small = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(size, Image.Resampling.NEAREST)) > 0
        edge = small & ~_eroded(small)
        array = np.asarray(picture).copy()
        array[edge] = (230, 30, 30)
        picture = Image.fromarray(array)
    return picture


def _eroded(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner
