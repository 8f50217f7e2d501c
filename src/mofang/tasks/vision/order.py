"""The order's `vision:` section, as the order schema will take it (`Order.vision`), and a reader of an image
order's file for the script-level trial until the task is registered."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from mofang.core.errors import OrderError
from mofang.orders.schema import Strict
from mofang.tasks.vision.portable import MAX_PIXELS


class PretrainedSettings(Strict):
    """A pretrained backbone, used only when its weights file exists (never downloaded)."""

    arch: str = Field("resnet18", description="A timm or torchvision architecture name (resnet18/34/50 built in)")
    weights: Path | None = Field(None, description="Local weights: a state dict (.pth/.pt/.bin) or .safetensors")


class VisionSettings(Strict):
    """image-classification orders: the defect-free class, duplicates, masks, image size and families."""

    good_class: str | None = Field(None, description="The defect-free class: defect recall and the false-alarm "
                                                     "rate count against it (default: guessed from the class "
                                                     "names — good, OK, normal, free, ...)")
    duplicates: Literal["remove", "group", "keep"] = Field(
        "remove", description="Near-duplicate images: remove (keep the first), group (keep them, always on one "
                              "side of the split) or keep; exact duplicates are always removed")
    masks: Literal["auto", "off"] = Field("auto", description="Defect masks (x.png beside x.jpg, or a `mask` "
                                                              "column): auto uses them when found")
    image_size: int = Field(192, ge=32, le=1024, description="The CNN's input side in pixels")
    max_pixels: int = Field(MAX_PIXELS, ge=1, description="The decompression-bomb guard: an image of more pixels "
                                                          "is skipped at intake and refused when served (a JPEG "
                                                          "that fits at 1/2 to 1/8 scale is decoded so)")
    families: list[Literal["features-logistic", "features-lightgbm", "cnn", "pretrained"]] = Field(
        default_factory=lambda: ["features-logistic", "features-lightgbm", "cnn", "pretrained"])
    pretrained: PretrainedSettings = Field(default_factory=PretrainedSettings)
    path_column: str = Field("path", description="A CSV/Excel list's image-path column")
    label_column: str = Field("label", description="A CSV/Excel list's label column")
    mask_column: str = Field("mask", description="A CSV/Excel list's mask-path column (optional)")


def read_order(path: Path) -> dict[str, Any]:
    """An image order file as {source, vision (VisionSettings), budget_s, seed}; relative paths are taken from
    the order's folder. Raises OrderError naming the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise OrderError(f"cannot read the order: {exc}", file=str(path)) from None
    if raw.get("task") != "image-classification":
        raise OrderError(f"not an image-classification order (task: {raw.get('task')!r})", file=str(path),
                         field="task")
    sources = raw.get("data")
    sources = [sources] if isinstance(sources, dict) else sources
    if not sources or not isinstance(sources[0], dict) or "path" not in sources[0]:
        raise OrderError("an image order needs a data source with a 'path'", file=str(path), field="data")
    if len(sources) > 1:
        raise OrderError("an image order reads one source (a folder, archive or list)", file=str(path),
                         field="data")
    try:
        vision = VisionSettings.model_validate(raw.get("vision") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in ("vision", *first["loc"]))
        raise OrderError(first["msg"], file=str(path), field=where) from None
    base = path.resolve().parent
    source = Path(sources[0]["path"])
    weights = vision.pretrained.weights
    if weights is not None and not weights.is_absolute():
        vision.pretrained.weights = base / weights
    return {"source": source if source.is_absolute() else (base / source).resolve(), "vision": vision,
            "budget_s": float((raw.get("budget") or {}).get("minutes", 10)) * 60, "seed": int(raw.get("seed", 42))}
