"""mofang_edge_runner (vision): run a Mofang image product's edge bundle with onnxruntime, numpy and Pillow only.

This file is shipped inside the edge bundle of every image product as `mofang_edge_runner.py`, beside
`mofang_vision.py` (the factory's decoding, features and decision: `mofang.tasks.vision.portable`), the ONNX
models and `preprocess.json` (which models, their inputs and classes, the defect-free class and the P(good) an
image needs to be called good). It must import nothing but the standard library, numpy, Pillow and onnxruntime.

    python mofang_edge_runner.py tile1.jpg tile2.png folder/       # image files, or folders of them
    python mofang_edge_runner.py --bundle DIR images/ --out answers.json

Prints one JSON object per image: {"image": path, "prediction": class, "probabilities": {class: p}}, or
{"image": path, "error": reason, "kind": "empty" | "not-an-image" | "corrupt" | "truncated" | "too-large"} for a
file that is no usable image (the exit status is then 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

try:  # in an edge bundle: the module beside this file
    import mofang_vision as portable  # type: ignore[import-not-found]
except ImportError:  # in the factory
    from mofang.tasks.vision import portable

FORMAT = "mofang.edge-vision/1"
SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")


class VisionEdge:
    """A loaded image edge bundle: `predict_files` and `predict_pixels` answer like the served product."""

    def __init__(self, folder: str | Path) -> None:
        import onnxruntime as ort

        folder = Path(folder)
        self.spec = json.loads((folder / "preprocess.json").read_text("utf-8"))
        if self.spec.get("format") != FORMAT:
            raise ValueError(f"{folder / 'preprocess.json'}: not a {FORMAT} preprocessing file")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        self.sessions = [ort.InferenceSession(str(folder / m["model_file"]), options,
                                              providers=["CPUExecutionProvider"]) for m in self.spec["members"]]
        self.classes = [str(c) for c in self.spec["classes"]]

    def decode(self, data: bytes) -> np.ndarray:
        """The pixels of one image file, decoded as the factory decodes it (raises portable.ImageProblem)."""
        limits = self.spec.get("decode", {})
        return portable.decode_image(data, max_pixels=int(limits.get("max_pixels", portable.MAX_PIXELS)),
                                     max_side=int(limits.get("max_side", portable.MAX_SIDE))).pixels

    def proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """One row per image, one column per class: the mean of the members' probabilities."""
        total = np.zeros((len(images), len(self.classes)))
        features: dict[str, np.ndarray] = {}
        for member, session in zip(self.spec["members"], self.sessions, strict=True):
            if member["kind"] == "features":
                key = json.dumps(member["features"], sort_keys=True)
                if key not in features:
                    features[key] = portable.ClassicalFeatures(**member["features"]).transform(images)
                feed = features[key].astype(np.float32)
            else:  # a network: uint8 pixels at its size, N×C×H×W as float32
                feed = np.stack([portable.network_input(p, member["size"], member["channels"]) for p in images])
                feed = np.ascontiguousarray(feed.transpose(0, 3, 1, 2)).astype(np.float32)
            out = np.asarray(session.run([member["output"]], {member["input"]: feed})[0], dtype=np.float64)
            for k, name in enumerate(member["classes"]):
                total[:, self.classes.index(str(name))] += out[:, k]
        return total / len(self.spec["members"])

    def predict_pixels(self, images: Sequence[np.ndarray]) -> dict[str, Any]:
        """{"predictions": [...], "probabilities": [{class: p}]} for decoded images."""
        if not len(images):
            return {"predictions": [], "probabilities": []}
        proba = self.proba(images)
        labels = portable.decide(proba, self.classes, self.spec.get("good_class"), self.spec.get("good_min"))
        return {"predictions": [str(c) for c in labels],
                "probabilities": [{c: round(float(p), 6) for c, p in zip(self.classes, row, strict=True)}
                                  for row in proba]}

    def predict_files(self, files: Sequence[bytes]) -> dict[str, Any]:
        """The answer for image files' bytes (raises portable.ImageProblem at the first unusable one)."""
        return self.predict_pixels([self.decode(data) for data in files])


def image_files(paths: Sequence[str]) -> list[Path]:
    """The files named, and the image files inside the folders named (sorted)."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        else:
            found.append(path)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a Mofang image product's edge bundle on image files.")
    parser.add_argument("images", nargs="+", help="image files, or folders of them")
    parser.add_argument("--bundle", default=str(Path(__file__).resolve().parent),
                        help="the unpacked bundle folder (default: this file's folder)")
    parser.add_argument("--out", help="write a JSON list of answers here instead of JSON lines on stdout")
    args = parser.parse_args(argv)
    model = VisionEdge(args.bundle)
    answers: list[dict[str, Any]] = []
    usable: list[tuple[int, np.ndarray]] = []
    for path in image_files(args.images):
        answers.append({"image": str(path)})
        try:
            usable.append((len(answers) - 1, model.decode(path.read_bytes())))
        except portable.ImageProblem as exc:
            answers[-1].update(error=str(exc), kind=exc.kind)
        except OSError as exc:
            answers[-1].update(error=f"cannot read the file ({exc})", kind="unreadable")
    answer = model.predict_pixels([pixels for _, pixels in usable])
    for (index, _), label, proba in zip(usable, answer["predictions"], answer["probabilities"], strict=True):
        answers[index].update(prediction=label, probabilities=proba)
    if args.out:
        Path(args.out).write_text(json.dumps(answers, ensure_ascii=False), "utf-8")
    else:
        for item in answers:
            print(json.dumps(item, ensure_ascii=False))
    return 0 if all("error" not in a for a in answers) else 1


if __name__ == "__main__":
    sys.exit(main())
