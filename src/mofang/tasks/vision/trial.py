"""A script-level check of the vision candidates on one image source, before the task runs down the line:

    python -m mofang.tasks.vision.trial ../shared/datasets/vision/magnetic_tile --good MT_Free --budget 300
    python -m mofang.tasks.vision.trial --order examples/orders/magnetic_tile.yaml

Reads the source (unusable files skipped, duplicates handled), splits it 80/20 stratified and seeded (near
duplicates on one side), keeps a stratified validation part of the training images to choose the winner, trains
every family within the shared budget and prints (and with --out writes as JSON) each candidate's validation and
test figures: macro-F1, defect recall, false-alarm rate, train time and latency per image."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from mofang.tasks.vision.candidates import Blend, CandidateSkipped, FeatureCache, ImageCandidate, build
from mofang.tasks.vision.intake import ImageSet, read_images, split
from mofang.tasks.vision.metrics import choose_good_min, decide, guess_good_class, image_metrics, mask_iou

# share of the budget each family may use at most (the CNN takes what the others leave)
SHARES = {"features-logistic": 0.1, "features-lightgbm": 0.15, "pretrained": 0.3, "cnn": 1.0}


def run_trial(images: ImageSet, *, good_class: str | None = None, budget_s: float = 300.0, seed: int = 42,
              test_size: float = 0.2, valid_size: float = 0.15, families: tuple[str, ...] | None = None,
              settings: dict[str, dict[str, Any]] | None = None, target_recall: float = 0.98) -> dict[str, Any]:
    """Train every family on one split of `images` within `budget_s` seconds in all and score them. Returns
    {split, good_class, candidates: [{family, status, reason?, train_s, latency_ms, valid, test, good_min,
    test_at_good_min}], winner}. `good_min`: the P(good) an image needs to be called good, chosen on the
    validation images for `target_recall` (defect recall)."""
    families = families or ("features-logistic", "features-lightgbm", "pretrained", "cnn")
    families = tuple(sorted(families, key=lambda f: f == "cnn"))  # the CNN uses whatever budget is left
    settings = settings or {}
    classes = images.classes
    good_class = good_class or guess_good_class(classes)
    labels = np.asarray(images.labels)
    groups = [r.group for r in images.records]
    pool, test = split(labels, test_size=test_size, seed=seed, groups=groups)
    inner_train, inner_valid = split(labels[pool], test_size=valid_size, seed=seed,
                                     groups=[groups[i] for i in pool])
    train, valid = pool[inner_train], pool[inner_valid]
    part = {name: images.subset(rows) for name, rows in (("train", train), ("valid", valid), ("test", test))}
    result: dict[str, Any] = {"split": {k: len(v.records) for k, v in part.items()}, "good_class": good_class,
                              "classes": classes, "budget_s": budget_s, "seed": seed, "candidates": []}
    cache = FeatureCache()
    fitted: dict[str, ImageCandidate] = {}
    started = time.monotonic()
    for index, family in enumerate(families):
        left = budget_s - (time.monotonic() - started)
        allowance = left if index == len(families) - 1 else left * SHARES.get(family, 0.2)
        entry: dict[str, Any] = {"family": family}
        began = time.monotonic()
        try:
            options = dict(settings.get(family, {}))
            if family == "cnn":
                options.setdefault("good_class", good_class)
            candidate = build(family, cache=cache, **options)
            if hasattr(candidate, "check"):
                candidate.check()
            if left <= 1:
                raise CandidateSkipped("no budget left")
            candidate.fit(part["train"].images, part["train"].labels, part["train"].masks, budget_s=allowance,
                          seed=seed)
        except CandidateSkipped as exc:
            entry.update(status="skipped", reason=str(exc))
            result["candidates"].append(entry)
            continue
        entry.update(status="trained", train_s=round(time.monotonic() - began, 2),
                     info=candidate.info)
        fitted[family] = candidate
        entry.update(_evaluate(candidate, part, classes, good_class, target_recall))
        result["candidates"].append(entry)
    if len(fitted) > 1:  # soft voting of the two best by validation macro-F1
        ranked = sorted((c for c in result["candidates"] if c["status"] == "trained"),
                        key=lambda c: -(c["valid"]["f1_macro"] or 0))
        blend = Blend([fitted[c["family"]] for c in ranked[:2]])
        entry = {"family": blend.family, "status": "trained", "info": blend.info,
                 "train_s": round(sum(c["train_s"] for c in ranked[:2]), 2)}
        entry.update(_evaluate(blend, part, classes, good_class, target_recall))
        result["candidates"].append(entry)
    trained = [c for c in result["candidates"] if c["status"] == "trained"]
    if trained:
        best = max(trained, key=lambda c: (c["valid"]["f1_macro"] or 0, c["valid"].get("defect_recall") or 0))
        result["winner"] = best["family"]
    return result


def _evaluate(candidate: ImageCandidate, part: dict[str, ImageSet], classes: list[str], good_class: str | None,
              target_recall: float) -> dict[str, Any]:
    """Validation and test figures (most probable class), the P(good) threshold chosen on validation for the
    defect-recall target and the test figures under it, mask IoU and latency."""
    proba = {name: _proba(candidate, part[name], classes) for name in ("valid", "test")}
    out: dict[str, Any] = {name: _score(part[name], proba[name], classes, good_class) for name in proba}
    if hasattr(candidate, "defect_map") and any(m is not None for m in part["test"].masks):
        out["test"]["mask_iou"] = mask_iou(candidate.defect_map(part["test"].images), part["test"].masks)
    if good_class is not None:
        good_min = choose_good_min(proba["valid"], part["valid"].labels, classes, good_class, target_recall)
        out["good_min"] = good_min
        out["test_at_good_min"] = _score(part["test"], proba["test"], classes, good_class, good_min)
    out["latency_ms"] = _latency(candidate, part["test"])
    return out


def _proba(candidate: ImageCandidate, part: ImageSet, classes: list[str]) -> np.ndarray:
    proba = candidate.predict_proba(part.images)
    full = np.zeros((len(part.records), len(classes)))
    for k, name in enumerate(candidate.classes_):
        full[:, classes.index(name)] = proba[:, k]
    return full


def _score(part: ImageSet, proba: np.ndarray, classes: list[str], good_class: str | None,
           good_min: float | None = None) -> dict[str, Any]:
    pred = decide(proba, classes, good_class, good_min)
    scores = image_metrics(part.labels, pred, classes, good_class, proba)
    scores["missed"] = [r.name for r, p in zip(part.records, pred, strict=True) if str(r.label) != p][:50]
    return scores


def _latency(candidate: ImageCandidate, part: ImageSet, tries: int = 20) -> dict[str, float]:
    """Milliseconds to predict one image (p50, p95), one image at a time."""
    times = []
    for record in part.records[:tries]:
        begin = time.perf_counter()
        candidate.predict_proba([record.pixels])
        times.append((time.perf_counter() - begin) * 1000)
    return {"p50": round(float(np.percentile(times, 50)), 2), "p95": round(float(np.percentile(times, 95)), 2)} \
        if times else {}


def table(result: dict[str, Any]) -> str:
    """The candidates as a text table."""
    lines = [f"split {result['split']}  good class {result['good_class']}  budget {result['budget_s']} s",
             f"{'family':40} {'train s':>8} {'valid F1':>9} {'test F1':>8} {'defect rec':>10} {'false alarm':>11} "
             f"{'mask IoU':>8} {'p95 ms':>7}   at P(good)>=t: {'t':>4} {'F1':>6} {'rec':>6} {'f.a.':>6}"]
    for c in result["candidates"]:
        if c["status"] != "trained":
            lines.append(f"{c['family']:40} skipped: {c['reason']}")
            continue
        test = c["test"]
        lines.append(f"{c['family']:40} {c['train_s']:8.1f} {c['valid']['f1_macro']:9.3f} {test['f1_macro']:8.3f} "
                     f"{_fmt(test.get('defect_recall')):>10} {_fmt(test.get('false_alarm_rate')):>11} "
                     f"{_fmt(test.get('mask_iou')):>8} {c['latency_ms'].get('p95', 0):7.1f}" + _at_threshold(c))
    if result.get("winner"):
        lines.append(f"winner by validation macro-F1: {result['winner']}")
    return "\n".join(lines)


def _at_threshold(candidate: dict[str, Any]) -> str:
    at = candidate.get("test_at_good_min")
    if not at:
        return ""
    threshold = "max" if candidate["good_min"] is None else f"{candidate['good_min']:4.2f}"
    return (f"{'':17}{threshold:>4} {_fmt(at['f1_macro']):>6} {_fmt(at.get('defect_recall')):>6} "
            f"{_fmt(at.get('false_alarm_rate')):>6}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, nargs="?", help="a folder, archive or CSV/Excel list of images")
    parser.add_argument("--order", type=Path, default=None, help="an image order: its source, vision: section, "
                                                                 "budget and seed (options given here win)")
    parser.add_argument("--good", default=None, help="the defect-free class (default: guessed from the names)")
    parser.add_argument("--budget", type=float, default=None, help="seconds for all candidates (default 300)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--duplicates", default=None, choices=("remove", "group", "keep"))
    parser.add_argument("--families", default=None, help="comma-separated (default: all)")
    parser.add_argument("--weights", default=None, help="a local pretrained backbone weights file")
    parser.add_argument("--arch", default=None)
    parser.add_argument("--cnn", default="{}", help="JSON settings of the cnn family (size, width, ...)")
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON")
    args = parser.parse_args(argv)
    from mofang.tasks.vision.order import VisionSettings, read_order

    order = read_order(args.order) if args.order else {}
    vision: VisionSettings = order.get("vision") or VisionSettings()
    source = args.source or order.get("source")
    if source is None:
        parser.error("give a source or --order")
    duplicates = args.duplicates or vision.duplicates
    cnn = {"size": vision.image_size, **json.loads(args.cnn)}
    families = tuple(args.families.split(",")) if args.families else tuple(vision.families)
    begin = time.monotonic()
    images = read_images(source, duplicates=duplicates, path_column=vision.path_column,
                         label_column=vision.label_column, mask_column=vision.mask_column)
    if vision.masks == "off":
        for record in images.records:
            record.mask = None
    read_s = time.monotonic() - begin
    print(f"read {len(images.records)} images in {read_s:.1f} s; skipped {len(images.skipped)}; "
          f"duplicates removed {len(images.duplicates)}", flush=True)
    result = run_trial(images, good_class=args.good or vision.good_class,
                       budget_s=args.budget or order.get("budget_s") or 300.0,
                       seed=args.seed if args.seed is not None else order.get("seed", 42), families=families,
                       settings={"pretrained": {"weights": args.weights or vision.pretrained.weights,
                                                "arch": args.arch or vision.pretrained.arch}, "cnn": cnn})
    result["read_s"] = round(read_s, 2)
    result["total_s"] = round(time.monotonic() - begin, 2)
    result["duplicates"] = duplicates
    print(table(result))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
