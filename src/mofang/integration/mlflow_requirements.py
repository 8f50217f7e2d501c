"""What an MLflow export needs elsewhere: the public packages (pinned to the versions here) that loading the
bundle through its pyfunc and answering its input example imports, found by doing it in a fresh interpreter,
and Mofang's own code with its entry points, shipped in the model's `code/` folder (Mofang is not on PyPI).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

OWN = "mofang"  # shipped as code, never required
PROBE_TIMEOUT_S = 300
PROBE = ("import sys; before = set(sys.modules); from mofang.integration.mlflow_requirements import probe; "
         "probe(before, sys.argv[1], sys.argv[2])")  # the modules already there before Mofang are not counted


def pinned_requirements(bundle: Path, example: list[dict[str, object]]) -> list[str]:
    """`dist==version` of every installed distribution (Mofang left out) whose modules a fresh interpreter
    imports to load `bundle` the way the MLflow model does and answer `example` (rows, or {"question"})."""
    rows = bundle.parent / "example.json"
    rows.write_text(json.dumps(example, ensure_ascii=False, default=str), "utf-8")
    ran = subprocess.run([sys.executable, "-c", PROBE, str(bundle), str(rows)], capture_output=True,
                         text=True, timeout=PROBE_TIMEOUT_S)
    if ran.returncode != 0:
        from mofang.core.errors import MofangError

        raise MofangError(f"cannot tell what the MLflow model needs: loading the bundle in a fresh interpreter "
                          f"failed: {ran.stderr.strip()[-1000:]}")
    return list(json.loads(ran.stdout.strip().splitlines()[-1]))


def code_paths(folder: Path) -> list[str]:
    """Mofang's package (no caches) and a `dist-info` naming its version and entry points (how it finds its
    tasks), written under `folder`: the MLflow model's code path, put on `sys.path` when it loads."""
    import mofang

    package = Path(mofang.__file__).resolve().parent
    shutil.copytree(package, folder / OWN, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    info = folder / f"{OWN}-{mofang.__version__}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {OWN}\nVersion: {mofang.__version__}\n", "utf-8")
    try:
        entries = metadata.distribution(OWN).read_text("entry_points.txt") or ""
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree that was never installed
        entries = ""
    (info / "entry_points.txt").write_text(entries, "utf-8")
    return [str(folder / OWN), str(info)]


def _imported_distributions(before: set[str]) -> list[str]:
    """Pinned distributions of the top-level modules imported since `before` (standard library left out)."""
    owners = metadata.packages_distributions()
    modules = {name.split(".")[0] for name in set(sys.modules) - before} - set(sys.stdlib_module_names)
    found = {dist for module in modules for dist in owners.get(module, ())}
    pins = []
    for dist in sorted(found, key=str.lower):
        if dist.lower() == OWN:
            continue
        pins.append(f"{dist}=={metadata.version(dist)}")
    return pins


def probe(before: set[str], bundle: str, example: str) -> None:
    """Load `bundle` as the MLflow model does, answer the rows in the JSON file `example`, and print the
    distributions imported since `before` (JSON, on the last line)."""
    import pandas as pd

    from mofang.integration.bundle import load_bundle
    from mofang.integration.mlflow_export import MofangPyfunc

    model = MofangPyfunc()
    model.bundle = load_bundle(bundle)
    model.predict(None, pd.DataFrame(json.loads(Path(example).read_text("utf-8"))))
    print(json.dumps(_imported_distributions(before)))
