"""Issue 25, item 1: the demo order run twice with `--reproducible`, each time in a fresh Mofang home, gives the
same test metrics and the same model digest; `mofang reproduce` reruns the first from its build manifest and says
so; the manifest lists the library versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.demo import write_demo


def _manifest(meta: Any) -> dict[str, Any]:
    from mofang.core.config import settings
    from mofang.security.vault import open_vault

    version = meta.product_version("loan-default-demo", tenant="demo-bank")
    folder = Path(version.bundle_path)
    manifest = json.loads(open_vault(meta, settings().home).read_any("demo-bank", folder / "manifest.json"))
    metadata = json.loads(open_vault(meta, settings().home).read_any("demo-bank", folder / "metadata.json"))
    assert metadata["reproducible"] and metadata["model_digest"] == manifest["model_digest"]
    return manifest


@pytest.mark.slow
def test_two_reproducible_runs_on_fresh_homes_match_and_reproduce_says_so(tmp_path: Path) -> None:
    from mofang.store import MetaStore

    order = write_demo(tmp_path / "demo", rows=1500, minutes=0.5)
    manifests, outputs = [], []
    for home in ("first", "second"):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MOFANG_HOME", str(tmp_path / home))
            patch.delenv("MOFANG_DB_URL", raising=False)
            result = CliRunner().invoke(app, ["run", str(order), "--reproducible"])
            assert result.exit_code == 0, result.output
            meta = MetaStore()
            try:
                manifests.append(_manifest(meta))
                if home == "first":
                    reproduced = CliRunner().invoke(app, ["reproduce", "loan-default-demo@1", "--json"])
                    outputs.append(reproduced)
                    latest = meta.product_version("loan-default-demo", tenant="demo-bank").version
            finally:
                meta.dispose()
    first, second = manifests
    print(f"\nrun 1: {first['test_metrics']} digest {first['model_digest'][:16]}\n"
          f"run 2: {second['test_metrics']} digest {second['model_digest'][:16]}")
    assert first["test_metrics"] == second["test_metrics"]
    assert first["model_digest"] == second["model_digest"]
    assert first["plan"]["trials"] == second["plan"]["trials"] == first["trials_run"]
    for library in ("numpy", "pandas", "scikit-learn", "lightgbm", "catboost", "optuna", "pyarrow", "torch"):
        assert first["libraries"].get(library), f"the manifest lists no {library} version"
    reproduced = outputs[0]
    assert reproduced.exit_code == 0, reproduced.output
    comparison = json.loads(reproduced.output)
    assert comparison["identical"] and comparison["job_outcome"] == "done"
    fields = {r["field"]: r for r in comparison["fields"]}
    assert fields["model_digest"]["same"] and fields["roc_auc"]["same"]
    assert latest == 1  # the rerun is not delivered: no new product version
