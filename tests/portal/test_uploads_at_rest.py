"""Portal uploads at rest and under load: the shared PII sample uploaded through the API leaves no raw ID number,
mobile or name anywhere under MOFANG_HOME (stored, profiled, ordered, and after its job ran); the profile's
samples are masked; a malformed upload's profile answers 4xx with a JSON error, quickly."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from mofang.portal import create_app, uploads
from mofang.security.crypto import TamperedError, artifact_context, is_encrypted, write_encrypted
from mofang.security.identity import create_api_key, create_tenant
from mofang.security.scratch import plaintext_files
from mofang.security.vault import open_vault
from tests.conftest import SHARED_DATASETS, shared_required

TENANT = "clinic"
PERSONS = SHARED_DATASETS / "pii" / "multipriv_person_1000_zh.json"  # the shared sample of person records
SENSITIVE = ("name", "idCardNumbers", "phoneNumbers")  # names, ID card numbers, mobiles


@pytest.fixture()
def persons() -> list[dict]:
    if not PERSONS.exists():
        if shared_required():
            pytest.fail(f"shared PII sample missing: {PERSONS}")
        pytest.skip(f"shared PII sample missing: {PERSONS}")
    return json.loads(PERSONS.read_text(encoding="utf-8"))


@pytest.fixture()
def client(home: Path, meta) -> Iterator[TestClient]:
    create_tenant(meta, TENANT)
    key = create_api_key(meta, tenant=TENANT, user="owner", role="owner")[1]
    with TestClient(create_app(meta, home, max_upload_mb=16, notify=False), headers={"X-API-Key": key}) as c:
        yield c


def as_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def needles(rows: list[dict]) -> set[bytes]:
    """The raw values of the sensitive columns, as UTF-8 (a value under 6 bytes could turn up in ciphertext)."""
    values = {str(r[c]) for r in rows for c in SENSITIVE if r.get(c) not in (None, "")}
    return {v.encode("utf-8") for v in values if len(v.encode("utf-8")) >= 6}


def raw_at_rest(home: Path, found: set[bytes]) -> dict[str, int]:
    """Files under home holding any of the raw values, with how many."""
    hits = {}
    for path in (p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        count = sum(n in data for n in found)
        if count:
            hits[str(path.relative_to(home))] = count
    return hits


def upload(client: TestClient, name: str, content: bytes) -> dict:
    answer = client.post("/api/v1/uploads", params={"name": name}, content=content)
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.mark.slow
def test_the_pii_sample_uploaded_profiled_ordered_and_run_leaves_no_raw_value_at_rest(
        client: TestClient, home: Path, meta, persons: list[dict]) -> None:
    from mofang.scheduling.foreground import run_here

    raw = needles(persons)
    assert len(raw) > 1500  # distinct names, ID numbers and mobiles
    table, document = as_csv(persons), json.dumps(persons, ensure_ascii=False).encode("utf-8")
    files = {"persons.csv": table, "persons.json": document}
    sent = {name: upload(client, name, content) for name, content in files.items()}
    vault = open_vault(meta, home)
    for name, content in files.items():
        stored = uploads.find(home, TENANT, sent[name]["upload_id"])
        assert is_encrypted(stored) and stored.stat().st_mode & 0o077 == 0
        assert sent[name]["size_bytes"] == len(content) and vault.read(TENANT, stored) == content
        profile = client.get(f"/api/v1/uploads/{sent[name]['upload_id']}/profile")
        assert profile.status_code == 200, profile.text
        shown = json.dumps(profile.json(), ensure_ascii=False).encode("utf-8")
        assert [n.decode() for n in raw if n in shown] == []  # samples and PII examples come masked
        samples = {c["name"]: c["samples"] for c in profile.json()["columns"]}
        assert all("*" in s for column in SENSITIVE for s in samples[column])
    assert raw_at_rest(home, raw) == {}

    order = (f"id: persons-gender\ntenant: {TENANT}\ntask: tabular-classification\ntarget: gender\n"
             f"data: [{{path: '{sent['persons.csv']['order_path']}'}}]\ncolumns: {{deny: [naturalParagraph]}}\n"
             "budget: {minutes: 0.25}\nacceptance: none\n")
    placed = client.post("/api/v1/orders", json={"yaml": order})
    assert placed.status_code == 201, placed.text
    job_id = placed.json()["job_id"]
    spec = client.get("/api/v1/orders/persons-gender").json()["spec"]
    assert spec["data"][0]["path"] == sent["persons.csv"]["order_path"]
    scratch = home / "tenants" / TENANT / "jobs" / str(job_id)
    staged = scratch / "uploads" / sent["persons.csv"]["order_path"]
    assert is_encrypted(staged) and plaintext_files(scratch) == []  # sealed with the order's key while queued
    with pytest.raises(TamperedError):
        vault.read(TENANT, staged)
    assert vault.read(TENANT, staged, order="persons-gender") == table
    assert raw_at_rest(home, raw) == {}

    run_here(job_id, meta)
    job = client.get(f"/api/v1/jobs/{job_id}").json()
    data = next(s for s in job["stations"] if s["station"] == "data")
    ingest = next(p for p in data["processes"] if p["name"] == "ingest")
    assert ingest["status"] == "done" and ingest["metrics"]["rows"] == len(persons), job
    assert plaintext_files(scratch) == []
    assert raw_at_rest(home, raw) == {}


MALFORMED = [
    ("deep.json", b"[" * 100_000 + b"]" * 100_000, "nested"),
    ("deep.jsonl", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", "nested"),
    ("cut.json", b'[{"a": 1}, {"a": ', "not valid JSON"),
    ("broken.csv", "名字,值\n".encode() + b"\xff\xfe\xfa\xe5\n1,2\n", "encoding"),
    ("binary.csv", b"a,b\n\x00\x01\x02,1\n", "binary"),
    ("cut.xlsx", b"PK\x03\x04" + bytes(range(256)) * 4, "xlsx"),
    ("cut.parquet", b"PAR1" + bytes(200), "parquet"),
    ("cut.tar.gz", b"\x1f\x8b\x08\x00" + bytes(300), "tar"),
    ("one-line.csv", b",".join(b"%d" % i for i in range(900_000)), "line is"),  # ~6 MB on one line
]


@pytest.mark.parametrize(("name", "content", "says"), MALFORMED, ids=[case[0] for case in MALFORMED])
def test_a_malformed_upload_profiles_to_a_4xx_json_error(client: TestClient, home: Path, name: str, content: bytes,
                                                         says: str) -> None:
    sent = upload(client, name, content)
    started = time.monotonic()
    answer = client.get(f"/api/v1/uploads/{sent['upload_id']}/profile")
    assert 400 <= answer.status_code < 500, answer.text
    detail = answer.json()["detail"]
    assert says in detail and "mofang-upload-" not in detail and str(home) not in detail
    assert time.monotonic() - started < 20


def test_an_order_on_a_malformed_upload_is_refused_naming_the_upload(client: TestClient) -> None:
    sent = upload(client, "cut.json", b'[{"a": 1}, {"a": ')
    order = (f"id: broken\ntenant: {TENANT}\ntask: tabular-classification\ntarget: a\n"
             f"data: [{{path: '{sent['order_path']}'}}]\nacceptance: none\n")
    answer = client.post("/api/v1/orders", json={"yaml": order})
    assert answer.status_code == 422, answer.text
    assert sent["order_path"] in answer.json()["detail"] and "mofang-upload-" not in answer.text


def test_a_profile_reads_a_bounded_part_of_an_upload(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = pd.DataFrame({"城市": ["上海", "北京"] * 5000, "金额": range(10_000)})
    content = rows.to_csv(index=False).encode("utf-8")
    monkeypatch.setattr(uploads, "PROFILE_HEAD_BYTES", 20_000)
    monkeypatch.setattr(uploads, "PROFILE_MAX_BYTES", 1_000)
    table = client.get(f"/api/v1/uploads/{upload(client, 'big.csv', content)['upload_id']}/profile").json()
    assert 1000 < table["rows"] < 10_000 and table["sampled"]["of_bytes"] == len(content)
    whole = rows.to_json(orient="records", force_ascii=False).encode("utf-8")
    refused = client.get(f"/api/v1/uploads/{upload(client, 'big.json', whole)['upload_id']}/profile")
    assert refused.status_code == 413 and "too large to profile" in refused.json()["detail"]


def test_an_upload_stored_in_clear_before_is_encrypted_when_first_read(client: TestClient, home: Path, meta) -> None:
    legacy = home / "tenants" / TENANT / "uploads" / "0123456789abcdef" / "old.csv"
    legacy.parent.mkdir(parents=True)
    content = "城市,金额\n上海,1\n北京,2\n".encode()
    legacy.write_bytes(content)
    profile = client.get("/api/v1/uploads/0123456789abcdef/profile")
    assert profile.status_code == 200 and profile.json()["rows"] == 2
    assert is_encrypted(legacy) and open_vault(meta, home).read(TENANT, legacy) == content
    assert [u["size_bytes"] for u in client.get("/api/v1/uploads").json()] == [len(content)]


def test_an_upload_under_the_tenants_key_gets_a_key_of_its_own_when_first_read(client: TestClient, home: Path,
                                                                               meta) -> None:
    legacy = home / "tenants" / TENANT / "uploads" / "fedcba9876543210" / "old.csv"
    legacy.parent.mkdir(parents=True)
    content = "城市,金额\n上海,1\n北京,2\n".encode()
    vault = open_vault(meta, home)
    write_encrypted(vault.keyring.data_key(TENANT), legacy, content,  # as the release before upload keys did
                    artifact_context(TENANT, "uploads/fedcba9876543210/old.csv"))
    assert not vault.has_own_key(TENANT, legacy) and vault.read(TENANT, legacy) == content
    profile = client.get("/api/v1/uploads/fedcba9876543210/profile")
    assert profile.status_code == 200 and profile.json()["rows"] == 2
    assert vault.has_own_key(TENANT, legacy) and vault.read(TENANT, legacy) == content
    assert legacy.stat().st_mode & 0o077 == 0 and [p.name for p in legacy.parent.iterdir()] == ["old.csv"]


def test_a_modified_upload_is_refused_without_the_servers_path(client: TestClient, home: Path) -> None:
    sent = upload(client, "a.csv", b"a,b\n1,2\n3,4\n")
    stored = uploads.find(home, TENANT, sent["upload_id"])
    blob = bytearray(stored.read_bytes())
    blob[-3] ^= 0x01
    stored.write_bytes(bytes(blob))
    answer = client.get(f"/api/v1/uploads/{sent['upload_id']}/profile")
    assert answer.status_code == 422 and "does not open" in answer.json()["detail"]
    assert str(home) not in answer.text
