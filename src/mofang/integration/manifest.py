"""The build manifest of a reproducible product (`manifest.json` in its bundle, its digest in metadata.json):
what `mofang reproduce` reruns and compares — the order, the data version, the code, every library's version,
the seeds and thread counts, the plan of trials, the hardware, the winner, the model digest and the test metrics."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import platform
import re
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

MANIFEST_FILE = "manifest.json"
MANIFEST_VERSION = 1
# libraries a tabular model depends on, listed even where Mofang's requirements do not name them (torch: the MLP)
LIBRARIES = ("numpy", "pandas", "scikit-learn", "scipy", "lightgbm", "xgboost-cpu", "xgboost", "catboost", "torch",
             "optuna", "pyarrow", "joblib", "onnx", "onnxruntime", "skl2onnx", "imbalanced-learn")
# how the model digest is taken: not the bytes of model.joblib — joblib files of identical scikit-learn forests differ
# in the uninitialised padding bytes of their tree node records — but a canonical pickle of the loaded model
MODEL_DIGEST_METHOD = ("sha256 of the delivered model's canonical pickle (protocol 5, scikit-learn tree node records "
                       "with their struct padding zeroed)")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _CanonicalPickler(pickle.Pickler):
    """A pickler whose bytes depend only on the model's values: scikit-learn's `Tree` node arrays are rebuilt
    field by field into zeroed memory, so their padding bytes (garbage from malloc) no longer vary."""

    def reducer_override(self, obj: Any) -> Any:
        try:
            from sklearn.tree._tree import Tree
        except ImportError:  # pragma: no cover - scikit-learn is a dependency
            return NotImplemented
        if not isinstance(obj, Tree):
            return NotImplemented
        constructor, args, state = obj.__reduce__()[:3]
        state = dict(state)
        nodes = state["nodes"]
        clean = np.zeros(nodes.shape, dtype=nodes.dtype)
        for name in nodes.dtype.names or ():
            clean[name] = nodes[name]
        state["nodes"] = clean
        return constructor, args, state


def model_digest(path: str | Path) -> str:
    """The model file's digest by `MODEL_DIGEST_METHOD`."""
    import joblib

    buffer = io.BytesIO()
    _CanonicalPickler(buffer, protocol=5).dump(joblib.load(Path(path)))
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def canonical_digest(value: Any) -> str:
    """sha256 of a JSON value written canonically (sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def library_versions() -> dict[str, str]:
    """The installed version of every library Mofang requires plus `LIBRARIES` (those not installed left out)."""
    names = set(LIBRARIES)
    for requirement in metadata.requires("mofang") or []:
        if "extra ==" in requirement:
            continue
        found = re.match(r"[A-Za-z0-9_.\-]+", requirement)
        if found:
            names.add(found.group(0))
    versions = {}
    for name in sorted(names, key=str.lower):
        try:
            versions[name.lower()] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """Mofang's version, its git commit when the package runs from a checkout, and a hash of its sources (every
    .py file of the installed package, by relative path)."""
    import mofang

    root = Path(mofang.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    commit = dirty = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip() or None
        status = subprocess.run(["git", "status", "--porcelain", "--", str(root)], cwd=root, capture_output=True,
                                text=True, timeout=5, check=True).stdout
        dirty = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return {"mofang": getattr(mofang, "__version__", "unknown"), "git_commit": commit, "git_dirty": dirty,
            "sources_sha256": digest.hexdigest()}


def hardware() -> dict[str, Any]:
    """Where the build ran: platform, CPU model, cores."""
    cpu = platform.processor() or None
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu, "cores": os.cpu_count()}


def environment() -> dict[str, Any]:
    """The parts of a manifest that describe this machine and installation (what `mofang reproduce` compares)."""
    return {"python": platform.python_version(), "python_implementation": platform.python_implementation(),
            "libraries": library_versions(), "code": code_version(), "hardware": hardware()}


def build_manifest(*, order: dict[str, Any], dataset: dict[str, Any], plan: dict[str, Any],
                   candidates: list[dict[str, Any]], winner: dict[str, Any], model_path: str | Path,
                   test_metrics: dict[str, Any], threads: dict[str, Any]) -> dict[str, Any]:
    """The manifest of one reproducible build (see the module doc)."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "order": order, "order_digest": canonical_digest(order),
        "dataset_digest": dataset.get("digest"), "rows": dataset.get("rows"),
        "seed": order.get("seed"), "seeds": {"order": order.get("seed"), "search": order.get("seed"),
                                             "python": order.get("seed"), "numpy": order.get("seed"),
                                             "torch": order.get("seed")},
        "threads": threads,
        "plan": {k: plan.get(k) for k in ("families", "primary_metric", "direction", "budget_s", "train_s",
                                         "seconds", "trials", "trial_cost_s", "train_rows")},
        "trials_run": {r["family"]: r.get("trials") for r in candidates if r.get("family") != "ensemble"},
        "winner": {"name": winner.get("name"), "family": winner.get("family")},
        "model_digest": model_digest(model_path), "model_digest_method": MODEL_DIGEST_METHOD,
        "model_file_sha256": sha256_file(model_path),  # the file's own bytes (not compared: see the method)
        "test_metrics": test_metrics,
        **environment(),
    }


def compare(recorded: dict[str, Any], rebuilt: dict[str, Any] | None, here: dict[str, Any]) -> dict[str, Any]:
    """Field by field: the recorded build against the rebuilt one (test metrics, model digest, winner, trials) and
    the recorded environment against this one (python, libraries, code, hardware); `identical` when every result
    field matches (environment differences are listed, and make a mismatch explainable, not hidden)."""
    rows: list[dict[str, Any]] = []

    def add(kind: str, field: str, before: Any, after: Any) -> None:
        rows.append({"kind": kind, "field": field, "recorded": before, "now": after, "same": before == after})

    new = rebuilt or {}
    metrics = sorted(set(recorded.get("test_metrics") or {}) | set(new.get("test_metrics") or {}))
    for name in metrics:
        add("metric", name, (recorded.get("test_metrics") or {}).get(name), (new.get("test_metrics") or {}).get(name))
    add("model", "model_digest", recorded.get("model_digest"), new.get("model_digest"))
    add("model", "winner", (recorded.get("winner") or {}).get("name"), (new.get("winner") or {}).get("name"))
    add("model", "trials_run", recorded.get("trials_run"), new.get("trials_run"))
    add("data", "dataset_digest", recorded.get("dataset_digest"), new.get("dataset_digest"))
    results_same = all(r["same"] for r in rows)
    add("environment", "python", recorded.get("python"), here.get("python"))
    libs_before, libs_now = recorded.get("libraries") or {}, here.get("libraries") or {}
    for name in sorted(set(libs_before) | set(libs_now)):
        add("library", name, libs_before.get(name), libs_now.get(name))
    for field in ("mofang", "git_commit", "sources_sha256"):
        add("code", field, (recorded.get("code") or {}).get(field), (here.get("code") or {}).get(field))
    for field in ("platform", "machine", "cpu", "cores"):
        add("hardware", field, (recorded.get("hardware") or {}).get(field), (here.get("hardware") or {}).get(field))
    environment_same = all(r["same"] for r in rows if r["kind"] in ("environment", "library", "code", "hardware"))
    return {"identical": results_same and rebuilt is not None, "environment_same": environment_same, "fields": rows}
