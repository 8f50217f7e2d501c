"""Image classification: a class for each image (surface defects of parts, product photos), read from a
folder of class folders, an archive of them, or a CSV/Excel list of image paths, with optional defect masks.

The foundation is here — intake (`intake`, `images`), the data card's image section (`card`), classical
features (`features`), candidate families behind one interface (`candidates`, `cnn`, `pretrained`), inspection
metrics (`metrics`) and a script-level check (`python -m mofang.tasks.vision.trial`). Decoding, features and the
decision are numpy + Pillow only (`portable`), shared with the edge bundle (`edge`, `edge_runner`). The line's
own processes (`line`, `packaging`) and the served product (`serving`) are named in `OVERRIDES` and `HOOKS`; the
spec is registered under the `mofang.tasks` entry point group. See docs/vision.md."""

from __future__ import annotations

from mofang.core.resources import Needs
from mofang.core.tasks import TaskSpec

PACKAGE = "mofang.tasks.vision"
IMAGE_METRICS = {
    "f1_macro": "higher", "accuracy": "higher", "precision_macro": "higher", "recall_macro": "higher",
    "log_loss": "lower",
    "defect_recall": "higher",  # a defective image flagged as any defect (needs the order's good class)
    "false_alarm_rate": "lower",  # defect-free images flagged as a defect
    "mask_iou": "higher",  # defect localisation, when masks are given
}

# where the image line differs from the table line: whole processes (`mofang.tasks.vision.line`, the integration
# workshop's in `packaging`) and hooks (the order's checks, the served app and its agent tool in `serving`)
LINE, SERVING, PACKAGING = f"{PACKAGE}.line", f"{PACKAGE}.serving", f"{PACKAGE}.packaging"
RECIPE_PROCESSES = ("normalize", "clean", "deduplicate", "desensitize", "quality", "label", "augment")
OVERRIDES = {
    # read_images (skipped files, duplicates, masks); the image card and contact sheets; the split; the version
    **{f"data.{p}": f"{LINE}:{p}" for p in ("ingest", "profile", "validate", "split", "publish")},
    **{f"data.{p}": f"{LINE}:no_recipe" for p in RECIPE_PROCESSES},  # no table recipe for images
    **{f"model.{p}": f"{LINE}:{p}" for p in ("plan", "train", "select")},  # the families within the budget
    # image_metrics, mask IoU; robustness under blur, noise, brightness, rotation; gallery and overlays
    **{f"evaluation.{p}": f"{LINE}:{p}" for p in ("score", "gate", "report")},
    **{f"integration.{p}": f"{PACKAGING}:{p}" for p in ("package", "edge_bundle", "smoke_test")},
}
HOOKS = {
    "order.check": f"{LINE}:check_order",  # one source, given by path
    "intake.check": f"{LINE}:check_intake",  # the source exists and holds images
    "serving.app": f"{SERVING}:app",  # POST /predict with base64 images and multipart uploads
    "integration.tool": f"{SERVING}:tool",
}
PLANNED_OVERRIDES, PLANNED_HOOKS = OVERRIDES, HOOKS  # the names the foundation first declared them under

IMAGE_CLASSIFICATION = TaskSpec(
    name="image-classification",
    description="a class for each image (surface defects of parts, product photos)",
    metrics=IMAGE_METRICS, default_metric="f1_macro",
    target="optional",  # a class-folder source labels images by folder; a CSV list names its label column
    classes=True, robustness=True, sections=("vision",), section_models={"vision": f"{PACKAGE}.order:VisionSettings"},
    needs=Needs(cpus=2, memory_gb=3),  # a small CNN on two torch threads, the images decoded in memory
    # no data recipe: the image processes (OVERRIDES) replace the table recipe's steps
    overrides=OVERRIDES, hooks=HOOKS,
)

SPECS = (IMAGE_CLASSIFICATION,)
