"""A fresh virtualenv with only onnxruntime and numpy (built once per test session, ~30 s), where edge
bundles must run without Mofang, pandas or scikit-learn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def edge_python(tmp_path_factory) -> Path:
    """The python of a new venv holding onnxruntime + numpy only (from the package index / local wheels)."""
    venv = tmp_path_factory.mktemp("edge-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                                "--disable-pip-version-check", "onnxruntime", "numpy"],
                               capture_output=True, text=True, timeout=600)
    if installed.returncode != 0:
        pytest.skip(f"cannot install onnxruntime + numpy into a fresh venv: {installed.stderr[-500:]}")
    for absent in ("mofang", "pandas", "sklearn", "lightgbm", "scipy"):
        probe = subprocess.run([str(python), "-c", f"import {absent}"], capture_output=True, env=bare_env())
        assert probe.returncode != 0, f"the fresh venv should not have {absent}"
    return python


def bare_env() -> dict[str, str]:
    """The environment for the fresh venv's python: no PYTHONPATH leaking this checkout's packages into it."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
