"""The vision line: the station processes an image-classification order runs instead of the table line's
(the task's `overrides`) and its order check (`order.check` hook).

- data: `ingest` reads the one image source (class folders, an archive of them, or a CSV/Excel list) with
  unusable files skipped and duplicates removed; `profile` builds the data card's image section and contact
  sheets; the table recipe's processes have nothing to do (`no_recipe`); `validate` checks the classes and the
  defect-free class; `split` is stratified 80/20 (near duplicates on one side), a validation part kept out of
  train; `publish` writes the dataset version with its data card (JSON + HTML with the pictures).
- model: `plan` shares the budget between the order's families, `train` fits each within its share (a
  validation threshold on P(good) for the defect-recall target) and a soft-voting blend of the two best,
  `select` picks the winner by the order's metric within its size and latency limits.
- evaluation: `score` puts every candidate on the test images, `gate` checks the winner (metrics, size, latency,
  robustness under blur, noise, brightness and rotation), `report` writes the report with the per-class table,
  confusion matrix, misclassified gallery and defect-map overlays.
"""

from __future__ import annotations

import html
import io
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

from mofang.core.errors import DataError, MofangError
from mofang.core.tasks import spec as task_spec
from mofang.evaluation.gates import check_gate, record_gate
from mofang.evaluation.plots import classification_plots
from mofang.evaluation.robustness import RobustnessReport, robustness_plot
from mofang.evaluation.station import job_reasons, publish_report
from mofang.models.limits import limits_broken, within_limits
from mofang.security.audit import DATA_READ, AuditLog
from mofang.station.context import StationContext
from mofang.store import file_digest, tree_digest
from mofang.tasks.vision.candidates import Blend, CandidateSkipped, FeatureCache, ImageCandidate, build
from mofang.tasks.vision.card import image_card
from mofang.tasks.vision.images import resized
from mofang.tasks.vision.intake import ImageSet, is_image_source, read_images
from mofang.tasks.vision.intake import split as split_rows
from mofang.tasks.vision.metrics import choose_good_min, guess_good_class, image_metrics, mask_iou
from mofang.tasks.vision.order import VisionSettings
from mofang.tasks.vision.packaging import VisionModel
from mofang.tasks.vision.refit import affordable, refit_on_pool, refittable

TARGET = "label"
TEST_SHARE, VALID_SHARE = 0.2, 0.15  # of every image; of the images left for training
# the most a family may take of the training time left when its turn comes (the last one takes the rest)
SHARES = {"features-logistic": 0.12, "features-lightgbm": 0.18, "pretrained": 0.35, "cnn": 1.0}
ORDER = ("features-logistic", "features-lightgbm", "pretrained", "cnn")  # the CNN last: it uses what is left
REFIT_KEEPS = 0.6  # of the evaluation reserve, never taken by the refit
REFIT_SHARE = 0.15  # of the training time, kept for refitting the winner's feature members on train + valid
LATENCY_IMAGES = 20  # one-image predictions timed per candidate
ROBUSTNESS_IMAGES = (80, 240)  # test images perturbed: for the report only, or when the order gates on it
FLAT = ("images", "accuracy", "f1_macro", "precision_macro", "recall_macro", "defect_recall", "false_alarm_rate",
        "log_loss", "mask_iou", "defects", "defects_missed", "good", "false_alarms")


# -- the order ------------------------------------------------------------------------------------------------
def settings(order: Any) -> VisionSettings:
    """The order's `vision:` section (its defaults when the order has none)."""
    found = order.section("vision")
    return found if isinstance(found, VisionSettings) else VisionSettings.model_validate(found or {})


def check_order(order: Any) -> None:
    """The `order.check` hook: one image source given by path (a folder, archive or CSV/Excel list)."""
    if len(order.data) != 1:
        raise ValueError(f"an image-classification order reads one source (a folder of class folders, an archive "
                         f"of them, or a CSV/Excel list of image paths), not {len(order.data)}")
    source = order.data[0]
    if source.path is None:
        raise ValueError("data: an image source is a path (a folder, .zip/.tar.gz or CSV/Excel list), not a "
                         "database")
    if source.join is not None:
        raise ValueError("data: an image source cannot be joined")
    if order.time_column or order.id_column:
        raise ValueError("time_column and id_column do not apply to image-classification orders")


def check_intake(order: Any, source_file: Any = None) -> None:
    """The `intake.check` hook (when the order is admitted): the image source exists and is one (a folder with
    image files in class folders, an archive, or a CSV/Excel list); its images are read at ingest."""
    from mofang.tasks.vision.images import IMAGE_SUFFIXES

    path = Path(order.data[0].path or "")
    if not path.exists():
        raise DataError("file or folder not found", source=str(path))
    if not is_image_source(path):
        raise DataError("an image source is a folder of class folders, a .zip/.tar.gz/.tar of them, or a "
                        "CSV/Excel list of image paths", source=str(path))
    if path.is_dir():
        found = next((f for f in path.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()), None)
        if found is None:
            raise DataError(f"no image file ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder", source=str(path))


# -- data workshop ---------------------------------------------------------------------------------------------
def ingest(ctx: StationContext) -> str:
    """Read the image source: unusable files skipped with the reason, duplicates removed, masks found."""
    vision = settings(ctx.order)
    source = Path(ctx.order.data[0].path or "")
    if not source.exists():
        raise DataError("file or folder not found", source=str(source))
    if not is_image_source(source):
        raise DataError("an image source is a folder of class folders, a .zip/.tar.gz/.tar of them, or a "
                        "CSV/Excel list of image paths", source=str(source))
    ctx.advance(0, 1, f"reading images from {source.name}")
    images = read_images(source, path_column=vision.path_column, label_column=ctx.order.target or vision.label_column,
                         mask_column=vision.mask_column, duplicates=vision.duplicates, max_pixels=vision.max_pixels)
    if vision.masks == "off":
        for record in images.records:
            record.mask = None
    ctx.advance(1, 1, "images read")
    digest = tree_digest(source) if source.is_dir() else file_digest(source)
    read = {"label": str(source), "format": "images", "rows": len(images.records), "sha256": digest,
            "skipped": len(images.skipped), "duplicates_removed": len(images.duplicates)}
    for skipped in images.skipped[:20]:
        ctx.reason(f"skipped {skipped['name']}: {skipped['reason']}")
    if len(images.skipped) > 20:
        ctx.reason(f"... and {len(images.skipped) - 20} more files skipped (all listed in the data card)")
    if images.duplicates:
        near = sum(d["kind"] == "near" for d in images.duplicates)
        ctx.reason(f"removed {len(images.duplicates) - near} exact and {near} near-duplicate images before the "
                   f"split (policy {vision.duplicates}), so no image is on both sides of it")
    AuditLog(ctx.meta).record(DATA_READ, actor="line", tenant=ctx.tenant, object=ctx.order.id,
                              details={"job": ctx.job_id, "sources": [str(source)], "columns_denied": [],
                                       "rows": len(images.records)})
    ctx.metric(images=len(images.records), skipped=len(images.skipped), duplicates=len(images.duplicates),
               masks=sum(r.mask is not None for r in images.records))
    ctx.param(sources=[read], duplicates=vision.duplicates, masks=vision.masks)
    ctx.save("images", images)
    ctx.save("sources", {"sources": [read]})
    return (f"{len(images.records):,} images in {len(images.classes)} classes from {source.name}; "
            f"{len(images.skipped)} files skipped, {len(images.duplicates)} duplicates removed")


def profile(ctx: StationContext) -> str:
    """The data card's image section: counts, sizes, channels, masks, and a contact sheet per class."""
    images: ImageSet = ctx.load("images")
    card, figures = image_card(images, seed=ctx.order.seed)
    ctx.save("image_card", card)
    ctx.save("image_figures", tuple(figures))  # a tuple: kept as joblib (PNG bytes), not JSON
    ctx.metric(classes=card["classes"], masks=card["masks"])
    counts = ", ".join(f"{name} {n}" for name, n in card["classes"].items())
    return f"{card['images']:,} images ({counts}); {len(figures)} figures"


def no_recipe(ctx: StationContext) -> str:
    """The table recipe's processes (normalize ... augment): nothing to do on images."""
    return "no table recipe for images: unreadable files and duplicates are handled at ingest"


def validate(ctx: StationContext) -> str:
    """At least two classes; the defect-free class found (named by the order or guessed from the names)."""
    images: ImageSet = ctx.load("images")
    vision = settings(ctx.order)
    counts = pd.Series(images.labels).value_counts()
    if len(counts) < 2:
        raise DataError(f"an image order needs at least 2 classes to learn; found {len(counts)} "
                        f"({', '.join(map(str, counts.index))})", source=images.source)
    good = vision.good_class
    if good is not None and good not in counts.index:
        raise DataError(f"vision.good_class '{good}' is not one of the classes: {', '.join(sorted(counts.index))}",
                        source=images.source)
    if good is None:
        good = guess_good_class(list(counts.index))
        ctx.reason(f"defect-free class guessed from the names: {good}" if good else
                   "no defect-free class named (vision.good_class) or recognisable by name: defect recall and "
                   "the false-alarm rate are not measured")
    for label, n in counts.items():
        if n < 2:
            ctx.reason(f"class '{label}' has only {n} image: kept in train only (too few to evaluate)")
    ctx.save("vision_classes", {"classes": sorted(map(str, counts.index)), "good_class": good,
                                "counts": {str(k): int(v) for k, v in counts.items()}})
    return f"{len(counts)} classes; defect-free class {good or 'none'}"


def split(ctx: StationContext) -> str:
    """Stratified and seeded: 20% test, then 15% of the rest for validation; near duplicates kept together."""
    images: ImageSet = ctx.load("images")
    labels = np.asarray(images.labels)
    groups = [r.group for r in images.records]
    seed = ctx.order.seed
    pool, test = split_rows(list(labels), test_size=TEST_SHARE, seed=seed, groups=groups)
    inner_train, inner_valid = split_rows(list(labels[pool]), test_size=VALID_SHARE, seed=seed,
                                          groups=[groups[i] for i in pool])
    parts = {"train": pool[inner_train], "valid": pool[inner_valid], "test": test}
    sizes = {}
    for name, rows in parts.items():
        frame = pd.DataFrame({"row": rows.astype(int), "name": [images.records[i].name for i in rows],
                              TARGET: labels[rows], "group": [groups[i] for i in rows],
                              "mask": [images.records[i].mask is not None for i in rows]})
        ctx.save(name, frame)
        sizes[name] = len(frame)
    how = "stratified by class" + (", near duplicates on one side" if any(groups) else "")
    ctx.reason(f"split {1 - TEST_SHARE:.0%}/{TEST_SHARE:.0%} {how} with seed {seed}; {VALID_SHARE:.0%} of the "
               "training images kept for validation (choosing the winner and its P(good) threshold)")
    ctx.save("split_trace", {"method": how, "seed": seed, "rows": sizes,
                             "classes": {name: pd.Series(labels[rows]).value_counts().to_dict()
                                         for name, rows in parts.items()}})
    ctx.metric(**sizes)
    return f"train {sizes['train']:,} · valid {sizes['valid']:,} · test {sizes['test']:,} ({how})"


def publish(ctx: StationContext) -> str:
    """The dataset version: the split lists, the data card (JSON, and HTML with its figures) and contact sheets."""
    order = ctx.order
    card_images, figures = ctx.load("image_card"), ctx.load("image_figures")
    classes = ctx.load("vision_classes")
    vision = settings(order)
    parts = {name: ctx.load(name) for name in ("train", "valid", "test")}
    folder = ctx.path("dataset_version")
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "figures").mkdir(parents=True)
    pd.concat([p.assign(part=name) for name, p in parts.items()], ignore_index=True).to_csv(
        folder / "split.csv", index=False)
    for k, (_title, png) in enumerate(figures):
        (folder / "figures" / f"{k:02d}.png").write_bytes(png)
    card = {"identity": {"order": order.id, "tenant": order.tenant, "task": order.task, "target": TARGET},
            "sources": ctx.load("sources")["sources"], "images": card_images,
            "good_class": classes["good_class"], "split": ctx.load("split_trace"),
            "figures": [{"title": t, "file": f"figures/{k:02d}.png"} for k, (t, _) in enumerate(figures)],
            "lineage": {"sources": [{"label": s["label"], "sha256": s["sha256"]}
                                    for s in ctx.load("sources")["sources"]]}}
    (folder / "data_card.json").write_text(json.dumps(card, ensure_ascii=False, indent=1, default=str), "utf-8")
    (folder / "data_card.html").write_text(card_html(card, figures), "utf-8")
    digest, stored = ctx.artifacts.put_dir(ctx.tenant, "dataset", folder, ctx.vault, order=ctx.order.id)
    card["lineage"]["dataset_digest"] = digest
    images: ImageSet = ctx.load("images")
    dataset = {"digest": digest, "path": str(stored), "task": order.task, "target": TARGET, "id_column": None,
               "features": [{"name": "image", "kind": "image"}], "classes": classes["classes"],
               "rows": {name: len(p) for name, p in parts.items()}, "dropped": [],
               "vision": {"good_class": classes["good_class"], "image_size": vision.image_size,
                          "channels": images.channels, "masks": sum(r.mask is not None for r in images.records),
                          "families": list(vision.families), "max_pixels": vision.max_pixels}}
    ctx.save("data_card", card)
    ctx.save("dataset", dataset)
    ctx.param(digest=digest)
    ctx.reason(f"published dataset version {digest[:12]}: {sum(dataset['rows'].values()):,} images, data card "
               f"with {len(figures)} figures")
    return f"dataset {digest[:12]}: {sum(dataset['rows'].values()):,} images in {len(classes['classes'])} classes"


def card_html(card: dict[str, Any], figures: list[tuple[str, bytes]]) -> str:
    """The image data card as one self-contained HTML page (figures embedded)."""
    import base64

    info = card["images"]
    esc = html.escape

    def table(rows: list[tuple[Any, ...]], head: tuple[str, ...]) -> str:
        cells = "".join("<tr>" + "".join(f"<td>{esc(str(v))}</td>" for v in row) + "</tr>" for row in rows)
        return "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + f"</tr>{cells}</table>"

    parts = [f"<h1>Data card · {esc(card['identity']['tenant'])} / {esc(card['identity']['order'])}</h1>",
             f"<p>Task {esc(card['identity']['task'])} · {info['images']:,} usable images from "
             f"<code>{esc(str(info['source']))}</code> · defect-free class {esc(str(card['good_class']))} · "
             f"{info['masks']:,} defect masks</p>",
             "<h2>Classes</h2>", table(list(info["classes"].items()), ("class", "images")),
             "<h2>Split</h2>", table(list(card["split"]["rows"].items()), ("part", "images")),
             f"<p>{esc(card['split']['method'])}, seed {card['split']['seed']}</p>",
             "<h2>Sizes and channels</h2>",
             table([(k, info["width"].get(k), info["height"].get(k)) for k in ("min", "median", "max")],
                   ("", "width", "height")),
             table(list(info["channels"].items()), ("channels", "images")),
             f"<h2>Unreadable files ({info['skipped_count']})</h2>",
             table([(s["name"], s.get("kind", ""), s["reason"]) for s in info["skipped"]], ("file", "kind", "reason"))
             if info["skipped"] else "<p>None.</p>",
             f"<h2>Duplicates removed (exact {info['duplicates_removed']['exact']}, near "
             f"{info['duplicates_removed']['near']})</h2>",
             table([(d["removed"], d.get("kept") or "–", d["reason"]) for d in info["duplicates"]],
                   ("removed", "kept", "reason")) if info["duplicates"] else "<p>None.</p>",
             "<h2>Figures and contact sheets</h2><div>"]
    for title, png in figures:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure><img alt="{esc(title)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{esc(title)}</figcaption></figure>")
    parts.append("</div>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem}"
             "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem}"
             "figure{display:inline-block;margin:.5rem}img{max-width:620px;border:1px solid #eee}")
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Data card</title><style>{style}</style>'
            f"</head><body>{''.join(parts)}</body></html>")


# -- model workshop --------------------------------------------------------------------------------------------
def _metric(ctx: StationContext) -> tuple[str, str]:
    """The order's first acceptance metric, else the task's default (macro-F1), with its direction."""
    metrics = task_spec(ctx.order.task).metrics
    name = next(iter(ctx.order.acceptance.metrics), None) or task_spec(ctx.order.task).default_metric or "f1_macro"
    return name, metrics[name]


def _target_recall(ctx: StationContext) -> float:
    """The defect recall the P(good) threshold aims for: the order's criterion, else 0.98."""
    criterion = ctx.order.acceptance.metrics.get("defect_recall")
    return float(criterion.value) if criterion is not None else 0.98


def _weights(path: Path | None) -> tuple[Path | None, str | None]:
    """A pretrained weights file (relative paths from the working folder) and why it cannot be used."""
    if path is None:
        return None, "no local weights file named (vision.pretrained.weights); never downloaded"
    found = path if path.is_absolute() else Path.cwd() / path
    return (found, None) if found.is_file() else (None, f"weights file {path} not found; never downloaded")


def plan(ctx: StationContext) -> str:
    """The families in training order and the training time: what is left less the evaluation's reserve."""
    vision, dataset = settings(ctx.order), ctx.load("dataset")
    metric, direction = _metric(ctx)
    families = [f for f in ORDER if f in vision.families]
    reasons = [f"optimise {metric} ({direction} is better)"
               + (": the order's first acceptance metric" if ctx.order.acceptance.metrics else ": the default")]
    if "pretrained" in families:
        _, why = _weights(vision.pretrained.weights)
        if why:
            families.remove("pretrained")
            reasons.append(f"pretrained: skipped — {why}")
    if not families:
        raise MofangError("no image family can train: the order's vision.families leave none")
    budget, remaining = ctx.budget_s, ctx.remaining_s()
    test = dataset["rows"]["test"]
    # scoring every candidate on test, the robustness perturbations, the report and packaging; the edge bundle's
    # parity check answers every test image twice (as served, and through the ONNX runner)
    reserve = max(8.0, 0.12 * budget) + 0.02 * test * len(families) + 0.08 * test
    train_s = max(0.0, remaining - reserve)
    # the winner's feature members are fitted again on train + valid (`select`): time kept for it when a feature
    # family competes, taken from the families after them (the network's share, on this kind of machine)
    refit_s = REFIT_SHARE * train_s if any(f.startswith("features-") for f in families) else 0.0
    train_s -= refit_s
    reasons.append(f"{train_s:.0f}s of training ({remaining:.0f}s left of {budget:.0f}s, {reserve:.0f}s kept for "
                   f"evaluation, packaging and delivery, {refit_s:.0f}s for refitting the winner on train + valid), "
                   f"in turn: {', '.join(families)} (each at most its share of the time left, the last one all of "
                   "it)")
    for text in reasons:
        ctx.reason(text)
    out = {"families": families, "primary_metric": metric, "direction": direction, "budget_s": round(budget, 2),
           "train_s": round(train_s, 2), "reserve_s": round(reserve, 2), "refit_s": round(refit_s, 2),
           "train_until_elapsed_s": round(ctx.elapsed_s() + train_s, 2),
           "shares": {f: SHARES.get(f, 0.2) for f in families}, "target_recall": _target_recall(ctx),
           "reasons": reasons}
    ctx.param(families=families, primary_metric=metric, train_s=out["train_s"])
    ctx.save("plan", out)
    return f"{len(families)} families on {metric}: {train_s:.0f}s of training"


def _parts(ctx: StationContext, images: ImageSet, *names: str) -> list[ImageSet]:
    return [images.subset([int(i) for i in ctx.load(name)["row"]]) for name in names]


def train(ctx: StationContext) -> str:
    """Each family fitted on train within its share; its P(good) threshold and scores on valid; a blend of the
    two best. Every candidate is saved as a VisionModel."""
    the_plan, dataset = ctx.load("plan"), ctx.load("dataset")
    vision = settings(ctx.order)
    images: ImageSet = ctx.load("images")
    train_set, valid_set = _parts(ctx, images, "train", "valid")
    classes, good = dataset["classes"], dataset["vision"]["good_class"]
    folder = ctx.path("models")
    folder.mkdir(parents=True, exist_ok=True)
    cache = FeatureCache()
    families = the_plan["families"]
    fitted: dict[str, ImageCandidate] = {}
    records: list[dict[str, Any]] = []
    for index, family in enumerate(families):
        left = the_plan["train_until_elapsed_s"] - ctx.elapsed_s()
        allowance = left if index == len(families) - 1 else left * the_plan["shares"][family]
        ctx.advance(index, len(families), f"training {family} ({max(0.0, allowance):.0f}s)")
        began = time.monotonic()
        try:
            if allowance < 1.0:
                raise CandidateSkipped(f"no training time left ({max(0.0, allowance):.1f}s)")
            options: dict[str, Any] = {}
            if family == "cnn":
                options = {"size": vision.image_size, "good_class": good}
            elif family == "pretrained":
                options = {"weights": _weights(vision.pretrained.weights)[0], "arch": vision.pretrained.arch}
            candidate = build(family, cache=cache, **options)
            check = getattr(candidate, "check", None)
            if callable(check):
                check()
            candidate.fit(train_set.images, train_set.labels, train_set.masks, budget_s=allowance,
                          seed=ctx.order.seed)
        except CandidateSkipped as exc:
            ctx.reason(f"{family}: skipped — {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one family failing leaves the others to compete
            ctx.reason(f"{family}: not trained — {type(exc).__name__}: {exc}")
            continue
        fit_s = time.monotonic() - began
        try:
            records.append(_record(ctx, candidate, family, valid_set, classes, good, the_plan, fit_s, allowance))
            fitted[family] = candidate
        except Exception as exc:  # noqa: BLE001 - a candidate that cannot predict is left out, with the reason
            ctx.reason(f"{family}: trained but left out — it failed on the validation images: "
                       f"{type(exc).__name__}: {exc}")
    if len(records) > 1:
        metric, direction = the_plan["primary_metric"], the_plan["direction"]
        ranked = sorted(records, key=lambda r: _rank(r["valid_metrics"], metric, direction), reverse=True)[:2]
        blend = Blend([fitted[r["family"]] for r in ranked])
        records.append(_record(ctx, blend, "blend", valid_set, classes, good, the_plan,
                               sum(r["fit_seconds"] for r in ranked), 0.0))
    if not records:
        raise MofangError("no image family could be trained; see the reasons of this process")
    ctx.save("candidates", records)
    metric = the_plan["primary_metric"]
    ctx.metric(**{f"{r['name']}_{metric}": r["valid_metrics"].get(metric) for r in records})
    return "; ".join(f"{r['name']} {metric} {_fmt(r['valid_metrics'].get(metric))} ({r['fit_seconds']:.1f}s)"
                     for r in records)


def _rank(metrics: dict[str, Any], metric: str, direction: str) -> tuple[float, float, float]:
    value = metrics.get(metric)
    value = (-math.inf if direction == "higher" else math.inf) if value is None else float(value)
    return (value if direction == "higher" else -value, metrics.get("f1_macro") or 0.0,
            metrics.get("defect_recall") or 0.0)


def _record(ctx: StationContext, candidate: ImageCandidate, family: str, valid: ImageSet, classes: list[str],
            good: str | None, the_plan: dict[str, Any], fit_s: float, budget_s: float) -> dict[str, Any]:
    """Score a trained candidate on valid (with its P(good) threshold), time it, save it; its record."""
    name = candidate.family
    model = VisionModel(candidate, classes=classes, good_class=good, good_min=None, name=name)
    proba = _proba(candidate, valid.images, classes)
    if good is not None and len(valid.records):
        model.good_min = choose_good_min(proba, valid.labels, classes, good, the_plan["target_recall"])
    metrics = flat(image_metrics(valid.labels, list(model.labels(proba)), classes, good, proba))
    path = model.save(ctx.path("models") / f"{family}.joblib")
    latency = _latency(model, valid.images or [])
    threshold = ("the most probable class" if model.good_min is None
                 else f"good only when P({good}) ≥ {model.good_min:g}")
    note = (f"{name}: trained in {fit_s:.1f}s of {budget_s:.0f}s, valid {the_plan['primary_metric']} "
            f"{_fmt(metrics.get(the_plan['primary_metric']))}, defect recall {_fmt(metrics.get('defect_recall'))} "
            f"({threshold}, chosen on valid for defect recall ≥ {the_plan['target_recall']:g})")
    ctx.reason(note)
    return {"name": name, "family": family, "params": _jsonable(candidate.info), "valid_metrics": metrics,
            "fit_seconds": round(fit_s, 2), "budget_s": round(budget_s, 2), "trials": 1, "model_path": str(path),
            "size_mb": round(VisionModel.size_mb(path), 4), "p50_ms": latency["p50_ms"],
            "p95_ms": latency["p95_ms"], "good_min": model.good_min, "note": note}


def _proba(candidate: ImageCandidate, images: list[np.ndarray], classes: list[str]) -> np.ndarray:
    """Probabilities in the dataset's class order (0 for a class the candidate never saw)."""
    full = np.zeros((len(images), len(classes)))
    if not images:
        return full
    proba = candidate.predict_proba(images)
    for k, name in enumerate(candidate.classes_):
        full[:, classes.index(str(name))] = proba[:, k]
    return full


def _latency(model: VisionModel, images: list[np.ndarray]) -> dict[str, float]:
    """Milliseconds to answer one image (p50, p95), one at a time, after one warm-up call."""
    times: list[float] = []
    if images:
        model.predict_proba([images[0]])  # warm-up (a served model has answered before), not timed
    for pixels in images[:LATENCY_IMAGES]:
        began = time.perf_counter()
        model.predict_proba([pixels])
        times.append((time.perf_counter() - began) * 1000)
    if not times:
        return {"p50_ms": 0.0, "p95_ms": 0.0}
    return {"p50_ms": round(float(np.percentile(times, 50)), 3), "p95_ms": round(float(np.percentile(times, 95)), 3)}


def flat(figures: dict[str, Any]) -> dict[str, Any]:
    """The scalar figures of `image_metrics` (what gates and leaderboards read)."""
    return {k: figures.get(k) for k in FLAT if k in figures}


def select(ctx: StationContext) -> str:
    """The winner: the best by the order's metric on valid (then macro-F1, defect recall) within the limits."""
    the_plan, candidates = ctx.load("plan"), ctx.load("candidates")
    metric, direction = the_plan["primary_metric"], the_plan["direction"]
    limits = within_limits(candidates, ctx.order.acceptance)
    best = max(limits.pool, key=lambda r: _rank(r["valid_metrics"], metric, direction))
    score = best["valid_metrics"].get(metric)
    reason = (f"picked {best['name']}: best {metric} {_fmt(score)} on valid, {best['size_mb']:.3g} MB, p95 "
              f"{best['p95_ms']:.1f} ms" + limits.note)
    broken = limits_broken(best, ctx.order.acceptance)
    if broken:
        reason += f" (it breaks the limits too: {broken})"
    ctx.reason(reason)
    winner = {"name": best["name"], "family": best["family"], "model_path": best["model_path"],
              "primary_metric": metric, "direction": direction, "valid_score": score, "reason": reason}
    refit = _refit(ctx, best, candidates, the_plan)
    if refit is not None:
        winner.update(model_path=refit["model_path"], trained_model_path=best["model_path"], refit=refit)
    ctx.metric(winner=best["name"], valid_score=score)
    ctx.save("winner", winner)
    return reason + (f"; {refit['note']}" if refit else "")


def _refit(ctx: StationContext, best: dict[str, Any], candidates: list[dict[str, Any]],
           the_plan: dict[str, Any]) -> dict[str, Any] | None:
    """The winner's fast members fitted again on train + valid when the time left allows (the test images stay
    out); what was done, or None (with the reason recorded) when the winner is delivered as trained."""
    model = VisionModel.load(best["model_path"])
    images: ImageSet = ctx.load("images")
    train_set, valid_set = _parts(ctx, images, "train", "valid")
    if not refittable(model.candidate) or not len(valid_set.records):
        return None
    fit_seconds = {r["family"]: float(r["fit_seconds"]) for r in candidates}
    pool = len(train_set.records) + len(valid_set.records)
    # the refit takes what is left beyond the evaluation reserve (the time the plan kept for it, and what the
    # families left unused) and up to 40% of the reserve itself: scoring, robustness and packaging took 15–25 s of a
    # 52 s reserve on the magnetic-tile order, and jobs ended 40–70 s inside a 300 s budget
    allowed = max(ctx.remaining_s() - REFIT_KEEPS * the_plan["reserve_s"], 0.25 * the_plan["reserve_s"])
    chosen, need = affordable(model.candidate, fit_seconds, len(train_set.records), pool, allowed)
    if not chosen:
        ctx.reason(f"refit on training + validation images skipped: no member of {best['name']} can be fitted "
                   f"again in the {allowed:.0f}s left for it")
        return None
    result = refit_on_pool(model, train_set.images + valid_set.images, train_set.labels + valid_set.labels,
                           train_set.masks + valid_set.masks, seed=ctx.order.seed, only=chosen,
                           budget_s=allowed)
    ctx.reason(result.note if result.model is None else f"delivered model: {result.note} in {result.seconds:.1f}s "
               f"(about {need:.0f}s estimated, {allowed:.0f}s allowed); the test images were never seen by it")
    if result.model is None:
        return None
    path = result.model.save(ctx.path("models") / f"{best['family']}-refit.joblib")
    return {"model_path": str(path), "images": pool, "members": list(result.members), "seconds": result.seconds,
            "note": result.note}


# -- evaluation center -----------------------------------------------------------------------------------------
def score(ctx: StationContext) -> str:
    """Every candidate on the test images: macro-F1, per class, defect recall, false alarms, mask IoU."""
    dataset, candidates, winner = ctx.load("dataset"), ctx.load("candidates"), ctx.load("winner")
    images: ImageSet = ctx.load("images")
    (test,) = _parts(ctx, images, "test")
    classes, good = dataset["classes"], dataset["vision"]["good_class"]
    metric = winner["primary_metric"]
    leaderboard, details = [], {}
    for record in candidates:
        # the winner as delivered: refitted on train + valid when `select` could
        model = VisionModel.load(winner["model_path"] if record["name"] == winner["name"] else record["model_path"])
        proba = model.predict_proba(test.images)
        pred = [str(p) for p in model.labels(proba)]
        figures = image_metrics(test.labels, pred, classes, good, proba)
        if model.localizes and any(m is not None for m in test.masks):
            figures["mask_iou"] = mask_iou(model.candidate.defect_map(test.images), test.masks)  # type: ignore[attr-defined]
        leaderboard.append({**record, "test_metrics": flat(figures)})
        if record["name"] == winner["name"]:
            details = {"per_class": figures["per_class"], "confusion": figures["confusion"],
                       "predictions": [str(p) for p in pred], "proba": proba.round(6).tolist(),
                       "truth": test.labels, "names": [r.name for r in test.records]}
    ctx.save("leaderboard", leaderboard)
    ctx.save("test_details", details)
    ctx.metric(**{f"{r['name']}_test_{metric}": r["test_metrics"].get(metric) for r in leaderboard})
    return "; ".join(f"{r['name']} test {metric} {_fmt(r['test_metrics'].get(metric))}" for r in leaderboard)


PERTURBATIONS = ("blur", "noise", "brightness", "rotation")


def perturb(pixels: np.ndarray, how: str, rng: np.random.Generator) -> np.ndarray:
    """One image perturbed: Gaussian blur (radius 1.5), Gaussian noise (σ 12 grey levels), a brightness shift
    (±40 grey levels) or a rotation (±10°, edges replicated)."""
    if how == "blur":
        return np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(1.5)))
    if how == "noise":
        return np.clip(pixels + rng.normal(0, 12, pixels.shape), 0, 255).astype(np.uint8)
    if how == "brightness":
        return np.clip(pixels.astype(np.int16) + int(rng.choice([-40, 40])), 0, 255).astype(np.uint8)
    if how == "rotation":
        angle = float(rng.uniform(5, 10) * rng.choice([-1, 1]))
        padded = np.pad(pixels, [(8, 8), (8, 8)] + [(0, 0)] * (pixels.ndim - 2), mode="edge")
        turned = np.asarray(Image.fromarray(padded).rotate(angle, resample=Image.Resampling.BILINEAR))
        return np.ascontiguousarray(turned[8:-8, 8:-8])
    raise ValueError(f"unknown perturbation {how!r}")


def robustness(model: VisionModel, test: ImageSet, classes: list[str], good: str | None, metric: str,
               limit: int, seed: int) -> dict[str, Any]:
    """The winner's `metric` on (a stratified sample of) the test images, clean and under each perturbation;
    the drop per perturbation and the worst."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(test.records))
    if len(rows) > limit:
        from sklearn.model_selection import train_test_split

        try:
            rows, _ = train_test_split(rows, train_size=limit, random_state=seed, stratify=test.labels)
        except ValueError:
            rows = rng.choice(rows, size=limit, replace=False)
    sample = test.subset(sorted(int(i) for i in rows))
    truth = sample.labels
    direction = task_spec("image-classification").metrics.get(metric, "higher")

    def value(images: list[np.ndarray]) -> float:
        proba = model.predict_proba(images)
        found = flat(image_metrics(truth, list(model.labels(proba)), classes, good, proba)).get(metric)
        return float(found) if found is not None else float("nan")

    clean = value(sample.images)
    out_rows: list[dict[str, Any]] = []
    for how in PERTURBATIONS:
        score_ = value([perturb(p, how, rng) for p in sample.images])
        drop = clean - score_ if direction == "higher" else score_ - clean
        out_rows.append({"perturbation": how, "score": score_, "drop": drop, "changed_share": 1.0})
    worst = max(out_rows, key=lambda r: r["drop"] if r["drop"] == r["drop"] else -math.inf)
    return {"metric": metric, "clean_score": clean, "rows": out_rows, "rate": 1.0, "seed": seed, "examples": {},
            "images": len(sample.records), "worst": worst}


def gate(ctx: StationContext) -> str:
    """The order's acceptance criteria on the winner's test figures, size, one-image latency and robustness."""
    dataset, winner, leaderboard = ctx.load("dataset"), ctx.load("winner"), ctx.load("leaderboard")
    images: ImageSet = ctx.load("images")
    (test,) = _parts(ctx, images, "test")
    model = VisionModel.load(winner["model_path"])
    size_mb = VisionModel.size_mb(winner["model_path"])
    latency = _latency(model, test.images)
    gated = ctx.order.acceptance.max_robustness_drop is not None
    metric = "f1_macro"  # what the order's max_robustness_drop is read against
    measured = robustness(model, test, dataset["classes"], dataset["vision"]["good_class"], metric,
                          ROBUSTNESS_IMAGES[1] if gated else ROBUSTNESS_IMAGES[0], ctx.order.seed)
    ctx.save("robustness", measured)
    for row in measured["rows"]:
        ctx.reason(f"robustness: {row['perturbation']} → {metric} {_fmt(row['score'])} (drop {row['drop']:+.4f}) "
                   f"on {measured['images']} test images")
    row = next(r for r in leaderboard if r["name"] == winner["name"])
    result = check_gate(ctx.order, row["test_metrics"], size_mb, latency["p95_ms"], measured if gated else None)
    result.update(size_mb=round(size_mb, 4), p50_ms=latency["p50_ms"], p95_ms=latency["p95_ms"],
                  winner=winner["name"])
    return record_gate(ctx, result)


def report(ctx: StationContext) -> str:
    """The report: gate, leaderboard, per-class table, confusion matrix, robustness, misclassified images and
    defect-map overlays."""
    dataset, winner = ctx.load("dataset"), ctx.load("winner")
    leaderboard, gate_result, details = ctx.load("leaderboard"), ctx.load("gate"), ctx.load("test_details")
    images: ImageSet = ctx.load("images")
    (test,) = _parts(ctx, images, "test")
    metrics = next(r for r in leaderboard if r["name"] == winner["name"])["test_metrics"]
    verdict = "accepted" if gate_result["passed"] else "rejected"
    classes = dataset["classes"]
    truth, pred = np.asarray(details["truth"]), np.asarray(details["predictions"])
    plots = classification_plots(truth, pred, np.asarray(details["proba"]), classes, {})
    saved = ctx.load("robustness")
    plots["robustness"] = robustness_plot(
        RobustnessReport(**{k: saved[k] for k in ("clean_score", "rows", "rate", "seed", "examples")}),
        max_drop=ctx.order.acceptance.max_robustness_drop,
        title=f"Robustness: drop of {saved['metric']} per perturbation ({saved['images']} test images)")
    wrong = [i for i in range(len(truth)) if truth[i] != pred[i]]
    if wrong:
        plots["misclassified"] = gallery([test.records[i].pixels for i in wrong[:24]],
                                         [f"{truth[i]} -> {pred[i]}" for i in wrong[:24]],
                                         f"Misclassified test images: {len(wrong)} of {len(truth)} (true -> predicted)")
    model = VisionModel.load(winner["model_path"])
    with_mask = [i for i, r in enumerate(test.records) if r.mask is not None and r.mask.any()][:12]
    if model.localizes and with_mask:
        maps = model.candidate.defect_map([test.records[i].pixels for i in with_mask])  # type: ignore[attr-defined]
        plots["defect_maps"] = gallery([test.records[i].pixels for i in with_mask],
                                       [f"{truth[i]} -> {pred[i]}" for i in with_mask],
                                       "Defect maps on test images (green: true mask, red: predicted >= 0.5)",
                                       masks=[test.records[i].mask for i in with_mask],
                                       predicted=[m >= 0.5 for m in maps])
    names = [m for m in task_spec(ctx.order.task).metrics if any(r["test_metrics"].get(m) is not None
                                                                 for r in leaderboard)]
    content = {"order": ctx.order, "job_id": ctx.job_id, "task": ctx.order.task, "dataset": dataset,
               "winner": winner, "metrics": metrics, "primary_metric": winner["primary_metric"],
               "metric_names": names, "gate": gate_result, "verdict": verdict, "leaderboard": leaderboard,
               "reasons": job_reasons(ctx, winner), "per_class": details["per_class"], "slices": None,
               "learning": None}
    return publish_report(ctx, content, plots)


def gallery(pictures: list[np.ndarray], captions: list[str], title: str, *, thumb: int = 128, columns: int = 6,
            masks: list[np.ndarray | None] | None = None, predicted: list[np.ndarray] | None = None) -> bytes:
    """A PNG grid of images with a caption under each; masks outlined in green, predicted regions in red."""
    columns = max(1, min(columns, len(pictures)))
    lines = -(-len(pictures) // columns)
    cell_h = thumb + 16
    sheet = Image.new("RGB", (columns * (thumb + 6) + 6, lines * (cell_h + 6) + 26), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((6, 6), title, fill="black")
    for k, pixels in enumerate(pictures):
        picture = Image.fromarray(pixels).convert("RGB")
        scale = thumb / max(picture.size)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        array = np.asarray(picture.resize(size, Image.Resampling.BILINEAR)).copy()
        outlines: list[tuple[np.ndarray | None, tuple[int, int, int]]] = [
            (masks[k] if masks else None, (40, 200, 60)), (predicted[k] if predicted else None, (230, 30, 30))]
        for found, colour in outlines:
            if found is not None and found.any():
                small = resized(found.astype(np.uint8) * 255, size) > 127
                inner = small.copy()
                inner[1:-1, 1:-1] = small[1:-1, 1:-1] & small[:-2, 1:-1] & small[2:, 1:-1] & small[1:-1, :-2] \
                    & small[1:-1, 2:]
                array[small & ~inner] = colour
        x = 6 + (k % columns) * (thumb + 6)
        y = 26 + (k // columns) * (cell_h + 6)
        sheet.paste(Image.fromarray(array), (x + (thumb - size[0]) // 2, y + (thumb - size[1]) // 2))
        draw.text((x, y + thumb + 2), captions[k][:28], fill="black")
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or value != value else f"{value:.4f}"

