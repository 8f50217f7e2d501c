"""Order keys everywhere: what the line publishes for an order lives in that order's folder under that order's key
(the vault reads the key from the place), uploads have keys of their own, and what earlier releases stored under
the tenant's key at the tenant-wide places still opens and serves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import pytest

from mofang.integration.bundle import open_bundle
from mofang.scheduling.janitor import unreferenced
from mofang.security.crypto import TamperedError, artifact_context, is_encrypted, read_decrypted
from mofang.security.keys import SecurityError, upload_key_id
from mofang.security.vault import Vault, key_owner, open_vault
from mofang.store import ArtifactStore, MetaStore
from mofang.store.models import Job, ProcessRun, StationRun

TENANT = "acme"


@pytest.fixture()
def vault(meta: MetaStore, home: Path) -> Vault:
    return open_vault(meta, home)


def _folder(root: Path, text: str = "a,b\n1,2\n") -> Path:
    root.mkdir(parents=True)
    (root / "train.parquet").write_text(text, encoding="utf-8")
    (root / "data_card.json").write_text('{"rows": 1}', encoding="utf-8")
    return root


def test_the_key_follows_from_the_place() -> None:
    assert key_owner(Path("artifacts/dataset/orders/o-1/ab/abcd/train.parquet")) == ("order", "o-1")
    assert key_owner(Path("artifacts/market/orders/o.2/ab/abcd/model.joblib")) == ("order", "o.2")
    assert key_owner(Path("uploads/0123456789abcdef/a.csv")) == ("upload", "0123456789abcdef")
    assert key_owner(Path("artifacts/dataset/ab/abcd/train.parquet")) is None  # an earlier release's: the tenant's
    assert key_owner(Path("jobs/7/uploads/0123456789abcdef/a.csv")) is None  # a job's: the order the caller names


def test_an_orders_artifacts_live_in_its_folder_under_its_key(tmp_path: Path, home: Path, meta: MetaStore,
                                                             vault: Vault) -> None:
    store = ArtifactStore(home)
    source = _folder(tmp_path / "dataset_version")
    digest, stored = store.put_dir(TENANT, "dataset", source, vault, order="o1")
    assert stored == home / "tenants" / TENANT / "artifacts" / "dataset" / "orders" / "o1" / digest[:2] / digest
    assert store.put_dir(TENANT, "dataset", source, vault, order="o1") == (digest, stored)  # idempotent
    file = stored / "train.parquet"
    assert is_encrypted(file) and vault.read(TENANT, file) == b"a,b\n1,2\n"  # no order named: the place says it
    tenant_key = vault.keyring.data_key(TENANT)
    with pytest.raises(TamperedError):  # not the tenant's key
        read_decrypted(tenant_key, file, artifact_context(TENANT, file.relative_to(home / "tenants" / TENANT)))
    with pytest.raises(SecurityError, match="lies in the artifacts of order 'o1', not of order 'o2'"):
        vault.read(TENANT, file, order="o2")

    # the same content for another order: a folder (and key) of its own, never shared
    other_digest, other = store.put_dir(TENANT, "dataset", source, vault, order="o2")
    assert other_digest == digest and other != stored and vault.read(TENANT, other / "train.parquet") == b"a,b\n1,2\n"
    moved = other / "train.parquet"
    shutil.copyfile(file, moved)  # o1's file put in o2's place opens with neither key
    with pytest.raises(TamperedError):
        vault.read(TENANT, moved)

    assert store.order_dirs(TENANT, "o1") == [home / "tenants" / TENANT / "artifacts" / "dataset" / "orders" / "o1"]
    assert vault.keyring.shred_order(TENANT, "o1")
    fresh = open_vault(meta, home)
    with pytest.raises(SecurityError, match="the key of order 'o1' of tenant 'acme' was destroyed"):
        fresh.read(TENANT, file)
    assert fresh.read(TENANT, other / "data_card.json") == b'{"rows": 1}'  # o2 keeps its key


def test_an_order_with_no_key_opens_nothing_in_a_folder_named_after_it(home: Path, vault: Vault) -> None:
    planted = home / "tenants" / TENANT / "artifacts" / "bundle" / "orders" / "never" / "ab" / "abcd" / "x.json"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"MFG1" + bytes(40))
    with pytest.raises(SecurityError, match="order 'never' of tenant 'acme' never had a key"):
        vault.read(TENANT, planted)
    assert vault.keyring.order_key_state(TENANT, "never") == "none"  # reading made no key


def test_an_uploads_own_key_is_made_when_it_is_written(home: Path, vault: Vault) -> None:
    final = home / "tenants" / TENANT / "uploads" / "0123456789abcdef" / "a.csv"
    final.parent.mkdir(parents=True)
    stream = vault.encryptor(TENANT, final)
    final.write_bytes(stream.update(b"a,b\n") + stream.finish())
    assert vault.has_own_key(TENANT, final) and vault.read(TENANT, final) == b"a,b\n"
    assert vault.keyring.order_key_state(TENANT, upload_key_id("0123456789abcdef")) == "live"
    vault.keyring.shred_order(TENANT, upload_key_id("0123456789abcdef"))
    with pytest.raises(SecurityError, match="the key of upload '0123456789abcdef' of tenant 'acme' was destroyed"):
        vault.read(TENANT, final)


def test_what_an_earlier_release_stored_under_the_tenants_key_still_opens_and_serves(
        tmp_path: Path, home: Path, meta: MetaStore, vault: Vault) -> None:
    from tests.products.test_served_routes import tabular_bundle

    built = tabular_bundle(tmp_path / "bundle")
    folder = tmp_path / "plain"
    folder.mkdir()
    joblib.dump(built.candidate, folder / "model.joblib")
    (folder / "schema.json").write_text(json.dumps(built.schema), "utf-8")
    (folder / "metadata.json").write_text(json.dumps(built.metadata), "utf-8")
    store = ArtifactStore(home)
    digest, legacy = store.put_dir(TENANT, "bundle", folder, vault)  # no order: the earlier, tenant-wide place
    assert legacy == home / "tenants" / TENANT / "artifacts" / "bundle" / digest[:2] / digest
    assert not vault.has_own_key(TENANT, legacy / "model.joblib")
    assert store.find_dir(TENANT, "bundle", digest, "o1") == legacy  # found for its order where it was put
    served = open_bundle(legacy, TENANT, meta)
    row = {f["name"]: 1 for f in built.schema["features"]}
    assert served.predict_records([row])["predictions"]
    _, own = store.put_dir(TENANT, "bundle", folder, vault, order="o1")
    assert store.find_dir(TENANT, "bundle", digest, "o1") == own
    assert open_bundle(own, TENANT, meta).predict_records([row]) == served.predict_records([row])


def test_the_janitor_sweeps_an_orders_folders_and_keeps_what_a_publish_names(tmp_path: Path, home: Path,
                                                                             meta: MetaStore, vault: Vault) -> None:
    store = ArtifactStore(home)
    job = meta.register_job(TENANT, "o1", "tabular-classification", {"id": "o1"}, None)
    kept_digest, kept = store.put_dir(TENANT, "dataset", _folder(tmp_path / "a"), vault, order="o1")
    _, orphan = store.put_dir(TENANT, "dataset", _folder(tmp_path / "b", "x\n"), vault, order="o1")
    _, elsewhere = store.put_dir(TENANT, "dataset", _folder(tmp_path / "c"), vault, order="o2")  # same digest, o2
    _, legacy = store.put_dir(TENANT, "dataset", _folder(tmp_path / "d", "y\n"), vault)
    staging = kept.parent / ".staging-x"
    staging.mkdir()
    with meta.session() as s:
        run = StationRun(job_id=job, station="data", status="done")
        s.add(run)
        s.flush()
        s.add(ProcessRun(station_run_id=run.id, name="publish", status="done", params={"digest": kept_digest}))
    with meta.session() as s:
        assert s.get(Job, job) is not None
        found = unreferenced(s, home, TENANT)
    assert sorted(found) == sorted([orphan, elsewhere, legacy, staging])
