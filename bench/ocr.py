"""Benchmark: OCR of rendered pages (the document folder's OCR, `mofang.data.ocr`): character accuracy and speed.

Pages: N pages (default 20) drawn with a seed, each with six lines in turn Chinese, English and mixed
(Chinese with numbers, codes and Latin), rendered with the WenQuanYi Micro Hei font at 22–30 px on a white page
(tests/data/ocr_pages.py, the same pages the tests render); `--noise` adds Gaussian pixel noise of that standard
deviation (a scanner's grain). Each page is saved as PNG and read with `mofang.data.ocr.read_image`, as a
document folder reads it.

Character accuracy = 1 − (sum of edit distances) / (sum of reference lengths) over all pages, whitespace removed
from both (and, second figure, with runs of whitespace kept as one space: OCR drops some spaces between English
words). Pages/s: wall clock of the OCR alone (the engine built before timing), on the threads the engine takes.

    .venv/bin/python bench/ocr.py [--pages 20] [--seed 0] [--noise 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.data.ocr_pages: the pages the tests draw

from mofang.data.limits import Limits  # noqa: E402
from mofang.data.ocr import LOW_CONFIDENCE, engine, engine_name, read_image  # noqa: E402
from tests.data.ocr_pages import character_accuracy, png_bytes, render_page, sample_lines  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise", type=float, default=0.0, help="std of Gaussian pixel noise (0: clean pages)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    references, images = [], []
    for i in range(args.pages):
        lines = sample_lines(rng, 6)
        references.append("\n".join(lines))
        images.append(png_bytes(render_page(lines, size=rng.choice((22, 24, 26, 28, 30)), noise=args.noise,
                                            seed=args.seed * 1000 + i)))
    engine()  # built once, outside the timing
    started = time.perf_counter()
    pages = [read_image(data, source=f"page {i + 1}", limit=Limits())[0] for i, data in enumerate(images)]
    seconds = time.perf_counter() - started
    readings = [p.text for p in pages]
    scores = [p.confidence for p in pages if p.confidence is not None]
    print(f"{engine_name()} on {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} CPUs "
          f"available; {args.pages} pages, seed {args.seed}, noise {args.noise}")
    print(f"character accuracy (whitespace removed): {character_accuracy(references, readings):.4f}")
    print(f"character accuracy (spaces kept):        {character_accuracy(references, readings, spaces=True):.4f}")
    print(f"mean page confidence {sum(scores) / max(1, len(scores)):.4f}; pages under {LOW_CONFIDENCE}: "
          f"{sum(c < LOW_CONFIDENCE for c in scores) + args.pages - len(scores)}")
    print(f"{args.pages / seconds:.2f} pages/s ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
