"""Benchmark: the delivered image product against a plain baseline on the magnetic-tile images, same split.

Mofang runs the real line on the example order (`examples/orders/magnetic_tile.yaml`, its data path pointed at
the shared folder and its budget set by --budget): ingest (unusable files skipped, exact and near duplicates
removed), card, split, every family within the budget, gate, packaging, edge bundle, delivery. The baseline reads
the same images the same way and takes the same stratified 80/20 split (`mofang.tasks.vision.intake.split`
with the order's seed, near duplicates on one side: the split the line makes), then fits HOG features
(scikit-image's `hog` when installed, else the factory's numpy HOG) of 128×128 grayscale images with a scaled
logistic regression on the whole 80%.

Both are scored on the same test images, read from their files: macro-F1, defect recall (a defective tile
flagged as any defect), false-alarm rate; train time (Mofang: its model workshop, and the whole job beside it;
the baseline: features + fit); p95 latency of one image, file bytes in, answer out, in this process, one image at
a time. Mofang is scored through its delivered bundle (decrypted in memory, as served).

    python bench/vision.py [--budget 300] [--source ../shared/datasets/vision/magnetic_tile] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
ORDER = ROOT / "examples" / "orders" / "magnetic_tile.yaml"
SOURCE = ROOT.parent / "shared" / "datasets" / "vision" / "magnetic_tile"
HOG_SIZE = 128


def figures(truth: list[str], pred: list[str], good: str) -> dict[str, float]:
    from mofang.tasks.vision.metrics import image_metrics

    found = image_metrics(truth, pred, sorted(set(truth)), good)
    return {k: float(found[k]) for k in ("f1_macro", "defect_recall", "false_alarm_rate", "accuracy")}


def p95_ms(answer: Any, files: list[bytes]) -> float:
    """p95 milliseconds to answer one image file (after one warm-up call)."""
    answer([files[0]])
    times = []
    for data in files:
        began = time.perf_counter()
        answer([data])
        times.append((time.perf_counter() - began) * 1000)
    return float(np.percentile(times, 95))


def hog_features(pixels: np.ndarray) -> np.ndarray:
    """HOG of the 128×128 grayscale image: scikit-image's when installed, else the factory's numpy one
    (9 orientations, 16-pixel cells, 2×2 blocks, L2-Hys)."""
    from mofang.tasks.vision.portable import square

    image = square(pixels, HOG_SIZE)
    try:
        from skimage.feature import hog
    except ImportError:
        from mofang.tasks.vision.portable import hog as numpy_hog

        return numpy_hog(image, cell=16, bins=9, block=2)
    return hog(image, orientations=9, pixels_per_cell=(16, 16), cells_per_block=(2, 2), block_norm="L2-Hys")


def baseline(train: list[np.ndarray], labels: list[str], test_files: list[bytes], truth: list[str],
             good: str, seed: int) -> dict[str, Any]:
    """HOG + scaled logistic regression, fitted on the training images, scored on the test files."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mofang.tasks.vision.images import decode_image

    began = time.perf_counter()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, random_state=seed))
    model.fit(np.stack([hog_features(p) for p in train]), labels)
    train_s = time.perf_counter() - began

    def answer(files: list[bytes]) -> list[str]:
        return list(model.predict(np.stack([hog_features(decode_image(f).pixels) for f in files])))

    try:
        import skimage  # noqa: F401
        which = "HOG (scikit-image) + logistic regression"
    except ImportError:
        which = "HOG (numpy) + logistic regression"
    return {"system": "baseline", "model": which, **figures(truth, answer(test_files), good),
            "train_s": train_s, "p95_ms": p95_ms(answer, test_files)}


def mofang(source: Path, budget_s: float, work: Path) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """Run the example order over `source` with `budget_s`; (its order as written, the delivered bundle, the
    job's figures: wall, model workshop seconds, status, the line's own test metrics)."""
    os.environ["MOFANG_HOME"] = str(work / "home")
    from sqlalchemy import select

    from mofang.line import run
    from mofang.orders import load_order
    from mofang.products import open_bundle
    from mofang.scheduling.admission import admit as submit
    from mofang.store import MetaStore
    from mofang.store.models import ProcessRun, StationRun

    order = yaml.safe_load(ORDER.read_text("utf-8"))
    order.update(id="bench-magnetic-tile", tenant="bench", data=[{"path": str(source.resolve())}],
                 budget={"minutes": round(budget_s / 60, 4)})
    order_file = work / "order.yaml"
    order_file.write_text(yaml.safe_dump(order, allow_unicode=True, sort_keys=False), "utf-8")
    meta = MetaStore()
    started = time.perf_counter()
    job = run(submit(load_order(order_file), meta, source_file=order_file), meta=meta)
    wall = time.perf_counter() - started
    if job.status == "done":
        bundle = open_bundle(meta.product_version(order["id"], tenant="bench").bundle_path, "bench", meta)
    else:  # a gate missed: not delivered, but the job packaged its winner in its (sealed) scratch folder
        from mofang.core.config import settings
        from mofang.integration.bundle import load_bundle
        from mofang.security.scratch import unseal_job_folder
        from mofang.security.vault import open_vault
        from mofang.store import ArtifactStore

        scratch = ArtifactStore().job_dir("bench", job.id)
        unseal_job_folder(open_vault(meta, settings().home), "bench", order["id"], scratch)
        bundle = load_bundle(scratch / "bundle")
    with meta.session() as session:
        model = session.execute(select(StationRun).where(StationRun.job_id == job.id,
                                                         StationRun.station == "model")).scalar_one()
        train_s = (model.finished_at - model.started_at).total_seconds()
        reasons = session.execute(select(ProcessRun.name, ProcessRun.reasons).where(
            ProcessRun.station_run_id == model.id).order_by(ProcessRun.id)).all()
    meta.dispose()
    for name, texts in reasons:  # what the model workshop tried, chose and refitted, in its own words
        for text in texts or []:
            print(f"  model.{name}: {text}", flush=True)
    print(f"job {job.id}: {job.status} ({job.outcome.get('verdict')}), wall {wall:.0f} s, failed checks "
          f"{job.outcome.get('failed_checks')}", flush=True)
    return order, bundle, {"wall_s": wall, "train_s": train_s, "status": job.status,
                           "verdict": job.outcome.get("verdict"), "line_metrics": bundle.metadata.get("metrics")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300.0, help="the order's budget in seconds")
    parser.add_argument("--source", type=Path, default=SOURCE, help="the magnetic-tile folder")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from mofang.tasks.vision.intake import read_images, split
    from mofang.tasks.vision.serving import decoded

    with tempfile.TemporaryDirectory(prefix="mofang-bench-vision-") as tmp:
        order, bundle, job = mofang(args.source, args.budget, Path(tmp))
        vision = order.get("vision") or {}
        good, seed = vision.get("good_class", "MT_Free"), int(order.get("seed", 42))
        images = read_images(args.source, duplicates=vision.get("duplicates", "remove"))
        labels = np.asarray(images.labels)
        pool, test = split(list(labels), test_size=0.2, seed=seed, groups=[r.group for r in images.records])
        test_files = [(args.source / images.records[i].name).read_bytes() for i in test]
        truth = [str(labels[i]) for i in test]

        def served(files: list[bytes]) -> list[str]:
            return bundle.candidate.answer(decoded([(f"image {k}", f) for k, f in enumerate(files)]))["predictions"]

        product = {"system": "Mofang", "model": bundle.metadata["family"], **figures(truth, served(test_files), good),
                   "train_s": job["train_s"], "p95_ms": p95_ms(served, test_files), **job}
        plain = baseline([images.records[i].pixels for i in pool], [str(labels[i]) for i in pool], test_files,
                         truth, good, seed)
    result = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "budget_s": args.budget,
              "images": len(images.records), "skipped": len(images.skipped), "duplicates": len(images.duplicates),
              "train_images": len(pool), "test_images": len(test), "cpus": os.cpu_count(),
              "rows": [product, plain]}
    print(f"{result['images']} images after {len(images.duplicates)} duplicates removed; train {len(pool)}, "
          f"test {len(test)}; budget {args.budget:.0f} s; job {job['status']} ({job['verdict']}), "
          f"wall {job['wall_s']:.0f} s")
    print("| system | model | macro-F1 | defect recall | false alarms | train s | p95 ms / image |")
    print("|---|---|---|---|---|---|---|")
    for row in result["rows"]:
        print(f"| {row['system']} | {row['model']} | {row['f1_macro']:.4f} | {row['defect_recall']:.4f} | "
              f"{row['false_alarm_rate']:.4f} | {row['train_s']:.1f} | {row['p95_ms']:.1f} |")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, default=str), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
