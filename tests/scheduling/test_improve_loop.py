"""The improvement loop end to end: feedback → retraining order → challenger gated → promoted or kept, with why."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.products import registry
from mofang.products.feedback import feedback_rows
from mofang.products.server import running_server
from mofang.scheduling.improve import _readable, improvements
from mofang.security.crypto import is_encrypted
from mofang.security.scratch import seal_job_folder
from mofang.security.vault import open_vault
from mofang.store import ArtifactStore
from tests.products.tiny_orders import ORDER_ID, TARGET, TENANT, churn_frame, run_order, write_order


@pytest.mark.slow
def test_feedback_retrains_and_promotes_only_a_better_challenger(tmp_path: Path, home: Path, meta) -> None:
    assert run_order(write_order(tmp_path / "order"), meta).status == "done"
    champion = meta.product_version(ORDER_ID)

    def cli(*args: str):
        return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})

    refused = cli("improve", ORDER_ID)
    assert refused.exit_code == 2 and "0 new feedback rows" in refused.output

    outcomes = churn_frame(240, seed=31).to_dict(orient="records")
    with running_server(champion, store=meta) as url:
        sent = httpx.post(f"{url}/feedback", json={"rows": outcomes})
        assert sent.json() == {"product": ORDER_ID, "version": 1, "recorded": 240}
        missing = httpx.post(f"{url}/feedback", json={"rows": [{"usage": 40, "plan": "pro"}]})
        assert missing.status_code == 422 and f"'{TARGET}' is missing" in missing.text
    assert len(feedback_rows(meta, TENANT, ORDER_ID)) == 240

    result = cli("improve", ORDER_ID)
    assert result.exit_code == 0, result.output
    (run,) = improvements(meta, TENANT, ORDER_ID)
    assert run.feedback_rows == 240 and run.challenger_version == 2 and run.champion_version == 1
    assert run.decision in {"promoted", "kept"} and run.decision in result.output
    comparison = run.comparison
    assert comparison["metric"] == "roc_auc" and comparison["rows"] > 100  # both scored on the same test split
    assert {comparison["champion"]["version"], comparison["challenger"]["version"]} == {1, 2}
    new, old = (comparison[r]["metrics"]["roc_auc"] for r in ("challenger", "champion"))
    aliases = registry.aliases(meta, TENANT, ORDER_ID)
    if run.decision == "promoted":
        assert new > old and aliases == {"champion": 2} and "promoted to champion" in run.reason
    else:
        assert new <= old and aliases == {"champion": 1, "challenger": 2} and "does not beat" in run.reason
    assert re.search(r"roc_auc \d\.\d{4} vs champion v1 \d\.\d{4} on the same \d+ test rows", run.reason)
    lineage = registry.lineage(meta, TENANT, ORDER_ID, 2)
    assert lineage["improved_from"] == 1 and lineage["job"] == run.job_id
    assert all(r.used_by_job == run.job_id for r in feedback_rows(meta, TENANT, ORDER_ID))
    assert not list((home / "tenants" / TENANT).glob(".feedback-*"))  # the plaintext feedback file is gone
    job = meta.job(run.job_id)
    sources = [s["path"] for s in job.spec["data"]]
    assert len(sources) == 2 and sources[1].endswith("feedback.csv")  # the original order + the feedback
    again = cli("improve", ORDER_ID)
    assert again.exit_code == 2 and "0 new feedback rows" in again.output  # each row retrains once

    destroyed = cli("destroy", ORDER_ID, "--tenant", TENANT)
    assert destroyed.exit_code == 0, destroyed.output
    assert feedback_rows(meta, TENANT, ORDER_ID) == [] and registry.aliases(meta, TENANT, ORDER_ID) == {}


def test_sources_sealed_in_a_job_folder_are_read_through_the_vault(home: Path, meta, tmp_path: Path) -> None:
    """An order placed through the portal reads sealed copies of its uploads; its retraining decrypts them."""
    job_folder, private = ArtifactStore(home).job_dir(TENANT, 1), tmp_path / "feedback"
    (job_folder / "uploads" / "u1").mkdir(parents=True)
    private.mkdir()
    staged = job_folder / "uploads" / "u1" / "churn.csv"
    staged.write_text("a,b\n1,2\n", encoding="utf-8")
    vault = open_vault(meta, home)
    assert seal_job_folder(vault, TENANT, ORDER_ID, job_folder) == 1 and is_encrypted(staged)
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n3,4\n", encoding="utf-8")

    read = _readable(meta, TENANT, ORDER_ID, [{"path": str(staged), "format": "csv"}, {"path": str(plain)}], private)
    assert Path(read[0]["path"]).read_text(encoding="utf-8") == "a,b\n1,2\n" and read[0]["format"] == "csv"
    assert Path(read[0]["path"]).is_relative_to(private) and read[1] == {"path": str(plain)}  # plain: as it was
    assert is_encrypted(staged)  # the champion's copy stays sealed
