"""Small real subsets of the shared magnetic-tile images (copied into a temporary folder, never the repo)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATASETS, shared_required
from tests.integration.conftest import bare_env

MAGNETIC_TILE = SHARED_DATASETS / "vision" / "magnetic_tile"


def magnetic_tile() -> Path:
    """The shared magnetic-tile folder; skipped where it is missing (a failure in CI)."""
    if not MAGNETIC_TILE.is_dir():
        why = f"the magnetic-tile images are not at {MAGNETIC_TILE}"
        if shared_required():
            pytest.fail(why)
        pytest.skip(why)
    return MAGNETIC_TILE


def copy_subset(target: Path, per_class: int, classes: tuple[str, ...] | None = None, masks: bool = True,
                start: int = 0) -> Path:
    """`per_class` images of each class folder, with their masks, under `target`: distinct tiles (the dataset
    shoots each tile in up to six exposures, `expK_num_N` with N a few dozen apart), every other one from
    `start`."""
    source = magnetic_tile()
    for folder in sorted(source.iterdir()):
        if not folder.is_dir() or (classes and folder.name not in classes):
            continue
        (target / folder.name).mkdir(parents=True, exist_ok=True)
        for image in distinct_tiles(folder)[start::2][:per_class]:
            shutil.copy(image, target / folder.name / image.name)
            if masks and image.with_suffix(".png").exists():
                shutil.copy(image.with_suffix(".png"), target / folder.name / image.with_suffix(".png").name)
    return target


def distinct_tiles(folder: Path) -> list[Path]:
    """One image per tile of a class folder, by frame number."""
    def number(path: Path) -> int:
        return int(path.stem.rsplit("_", 1)[-1])

    chosen: list[Path] = []
    for image in sorted(folder.glob("*.jpg"), key=number):
        if not chosen or number(image) - number(chosen[-1]) > 150:
            chosen.append(image)
    return chosen


@pytest.fixture(scope="module")
def tile_subset(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """A factory of subsets, each in its own temporary folder."""
    def make(per_class: int = 4, **kwargs: object) -> Path:
        return copy_subset(tmp_path_factory.mktemp("tiles"), per_class, **kwargs)  # type: ignore[arg-type]
    return make


@pytest.fixture(scope="session")
def vision_edge_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a new venv holding onnxruntime, numpy and Pillow only (as tests/integration's `edge_python`
    builds its onnxruntime + numpy one), where an image edge bundle must run without Mofang or scikit-learn."""
    venv = tmp_path_factory.mktemp("vision-edge-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                                "--disable-pip-version-check", "onnxruntime", "numpy", "pillow"],
                               capture_output=True, text=True, timeout=600)
    if installed.returncode != 0:
        pytest.skip(f"cannot install onnxruntime + numpy + Pillow into a fresh venv: {installed.stderr[-500:]}")
    for absent in ("mofang", "pandas", "sklearn", "lightgbm", "scipy", "torch"):
        probe = subprocess.run([str(python), "-c", f"import {absent}"], capture_output=True, env=bare_env())
        assert probe.returncode != 0, f"the fresh venv should not have {absent}"
    return python
