"""Certified destruction against a backup of the WHOLE Mofang home (issue 25, item 3).

One tenant places two small real orders through the portal API, each on an upload of its own plus one upload they
share; both run end to end (dataset version, candidate models, evaluation report, bundle) and order A's product is
published to the marketplace. Then the whole home is copied — the metadata database and the master key included
— and `mofang destroy A` runs. Every file of the copy under `tenants/` is then opened with the keys as they are
after the destruction (the live metadata store): every file derived from A — its upload, its job's scratch (the
staged copy of its uploads, tables, splits, candidate models, report drafts), its dataset version (splits, data
card), its bundle (model, schema, reports, model card, drift reference, edge package, metadata, tool schema) and
its marketplace copy — fails with the destroyed key, and every file of order B, and the upload B still uses, opens.

The copy's own metadata database still holds the keys as they were before: a backup of the key store taken together
with the master key is a backup of the keys, which no shredding reaches (docs/DESIGN-NOTES.md, "Order keys
everywhere"); what the test proves is that nothing else in the home opens without them.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from mofang.cli import app
from mofang.integration.bundle import open_bundle
from mofang.portal import create_app
from mofang.products import market
from mofang.scheduling.foreground import run_here
from mofang.security.crypto import is_encrypted
from mofang.security.identity import create_api_key, create_tenant
from mofang.security.keys import KeyRing, SecurityError, load_master_key
from mofang.security.scratch import MANIFEST
from mofang.security.vault import Vault, open_vault
from mofang.store import MetaStore
from tests.conftest import postgres_url
from tests.products.tiny_orders import churn_frame

TENANT = "acme"
A, B = "churn-a", "churn-b"

# what must be found (at least once) among the files of order A in the backup, and fail to open after destroy;
# order B must show the same, less the marketplace copy (B is not published). Every other file is checked too
# (e.g. "bundle: edge package", there when the winning family exports to ONNX).
KINDS_OF_A = {
    "upload", "job: staged upload", "job: raw and intermediate tables", "job: split", "job: data card",
    "job: candidate model", "job: candidate record", "job: report", "job: dataset version draft",
    "job: bundle draft", "job: scratch record", "dataset version: split",
    "dataset version: data card", "bundle: model", "bundle: schema", "bundle: report", "bundle: model card",
    "bundle: drift reference", "bundle: metadata", "bundle: tool schema",
    "market copy: model", "market copy: schema", "market copy: model card", "market copy: metadata",
}
KINDS_OF_B = {k for k in KINDS_OF_A if not k.startswith("market copy")}
BUNDLE_FILES = {"model.joblib": "model", "schema.json": "schema", "model_card.md": "model card",
                "reference.json": "drift reference", "edge.tar.gz": "edge package", "metadata.json": "metadata",
                "tool.json": "tool schema"}
# outside tenants/: the factory's own files, none derived from an order's data
FACTORY_FILES = re.compile(r"^(mofang\.db(-wal|-shm)?|master\.key|factory_ed25519\.pem|logs/worker-\d+\.jsonl)$")


def kind_of(relative: Path) -> str:
    """What a file under tenants/<tenant>/ is, by its place and name."""
    parts, name = relative.parts, relative.name
    if parts[0] == "uploads":
        return "upload"
    if parts[0] == "jobs":
        inner = parts[2:]
        if inner[0] == "uploads":
            return "job: staged upload"
        if name in ("train.parquet", "valid.parquet", "test.parquet"):
            return "job: split" if len(inner) == 1 else "job: dataset version draft"
        if name.endswith(".parquet"):
            return "job: raw and intermediate tables"
        if inner[0] == "models":
            return "job: candidate model" if name.endswith(".joblib") else "job: candidate record"
        if inner[0] == "report" or name.startswith("report"):
            return "job: report"
        if name.startswith("data_card"):
            return "job: data card"
        if inner[0] in ("bundle", "dataset_version"):
            return f"job: {inner[0].replace('_', ' ')} draft"
        return "job: scratch record"
    kind = parts[1]
    if kind == "dataset":
        return "dataset version: " + ("data card" if name.startswith("data_card") else "split")
    label = {"bundle": "bundle", "market": "market copy"}[kind]
    if name.startswith("report"):
        return f"{label}: report"
    return f"{label}: {BUNDLE_FILES.get(name, name)}"


def owner_of(relative: Path, jobs: dict[int, str], uploads: dict[str, str]) -> str:
    """The order (or 'shared' upload) a file under tenants/<tenant>/ derives from."""
    parts = relative.parts
    if parts[0] == "jobs":
        return jobs[int(parts[1])]
    if parts[0] == "uploads":
        return uploads[parts[1]]
    assert parts[0] == "artifacts" and parts[2] == "orders", f"{relative}: not in an order's folder"
    return parts[3]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch):
    if request.param == "postgresql":
        monkeypatch.setenv("MOFANG_DB_URL", postgres_url(fresh_schema=True))
    meta = MetaStore()
    yield meta
    meta.dispose()


def _upload(client: TestClient, name: str, seed: int) -> str:
    content = churn_frame(300, seed=seed).to_csv(index=False).encode("utf-8")
    answer = client.post("/api/v1/uploads", params={"name": name}, content=content)
    assert answer.status_code == 201, answer.text
    return answer.json()["upload_id"]


def _place(client: TestClient, order: str, uploads: list[str], names: dict[str, str]) -> int:
    data = ", ".join(f"{{path: '{u}/{names[u]}'}}" for u in uploads)
    text = (f"id: {order}\ntenant: {TENANT}\ntask: tabular-classification\ntarget: churned\nid_column: customer\n"
            f"data: [{data}]\nbudget: {{minutes: 0.25}}\nacceptance: none\n")
    placed = client.post("/api/v1/orders", json={"yaml": text})
    assert placed.status_code == 201, placed.text
    return int(placed.json()["job_id"])


@pytest.mark.slow
def test_a_backup_of_the_whole_home_opens_nothing_of_a_destroyed_order(store: MetaStore, home: Path,
                                                                        tmp_path: Path) -> None:
    meta = store
    create_tenant(meta, TENANT)
    key = create_api_key(meta, tenant=TENANT, user="owner", role="owner")[1]
    with TestClient(create_app(meta, home, max_upload_mb=16, notify=False), headers={"X-API-Key": key}) as client:
        names = {}
        for name, seed in (("a.csv", 1), ("b.csv", 2), ("both.csv", 3)):
            names[_upload(client, name, seed)] = name
        up_a, up_b, up_shared = names
        jobs = {_place(client, A, [up_a, up_shared], names): A, _place(client, B, [up_b, up_shared], names): B}
    for job in jobs:
        outcome = run_here(job, meta)
        assert meta.job(job).status == "done", (outcome, meta.job(job).error)
    assert {meta.product_version(o).version for o in (A, B)} == {1}
    market.publish(meta, TENANT, A, actor="owner")

    backup = tmp_path / "backup"
    shutil.copytree(home, backup)  # the whole home: metadata database and master key included
    result = CliRunner().invoke(app, ["destroy", A, "--tenant", TENANT],
                                env={"MOFANG_HOME": str(home), "MOFANG_API_KEY": key, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"uploads/{up_shared}: an upload also used by order '{B}'" in said  # kept, and said so
    certificate = Path(re.search(r"certificate (\S+\.json)", said).group(1))
    shredded = {k["key_id"] for k in json.loads(certificate.read_text("utf-8"))["certificate"]["keys_shredded"]}
    assert shredded == {f"order:{TENANT}/{A}", f"upload:{TENANT}/{up_a}"}

    # the keys as they are now, over the copy taken before
    vault = Vault(KeyRing(meta, load_master_key(home)), backup)
    uploads = {up_a: A, up_b: B, up_shared: "shared"}
    root = backup / "tenants" / TENANT
    seen: dict[str, set[str]] = defaultdict(set)
    opened: dict[str, int] = defaultdict(int)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if path.name == MANIFEST:  # the names of the files a job sealed, no data
            continue
        assert is_encrypted(path), f"{relative} is stored in clear"
        owner, kind = owner_of(relative, jobs, uploads), kind_of(relative)
        seen[owner].add(kind)
        order = owner if relative.parts[0] == "jobs" else None
        if owner == A:
            with pytest.raises(SecurityError, match=rf"the key of (order '{A}'|upload '{up_a}') of tenant "
                                                    rf"'{TENANT}' was destroyed"):
                vault.read(TENANT, path, order=order)
        else:
            assert vault.read(TENANT, path, order=order) is not None
        opened[owner] += owner != A
    assert KINDS_OF_A <= seen[A], f"kinds of order A never found: {sorted(KINDS_OF_A - seen[A])}"
    assert KINDS_OF_B <= seen[B], f"kinds of order B never found: {sorted(KINDS_OF_B - seen[B])}"
    assert seen["shared"] == {"upload"} and opened["shared"] == 1 and opened[B] > 50
    outside = sorted(p.relative_to(backup).as_posix() for p in backup.rglob("*")
                     if p.is_file() and root.parent not in p.parents)
    assert [p for p in outside if not FACTORY_FILES.match(p)] == []

    # the live home: nothing of A is left; B and the shared upload are served and read as before
    tenant_dir = home / "tenants" / TENANT
    assert not (tenant_dir / "uploads" / up_a).exists() and (tenant_dir / "uploads" / up_shared).exists()
    assert not [p for p in tenant_dir.rglob("*") if A in p.parts]
    assert not [j for j in jobs if jobs[j] == A and (tenant_dir / "jobs" / str(j)).exists()]
    live = open_vault(meta, home)
    assert live.read(TENANT, next((tenant_dir / "uploads" / up_shared).iterdir())).startswith(b"customer,")
    bundle = open_bundle(meta.product_version(B).bundle_path, TENANT, meta)
    assert bundle.metadata["order_id"] == B
