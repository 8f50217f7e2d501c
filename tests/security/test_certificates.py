"""Destruction certificates and the factory signing key."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import text

from mofang.security import audit as A
from mofang.security.audit import AuditLog
from mofang.security.certificates import CertificateError, issue_certificate, verify_certificate
from mofang.security.signing import FactoryKey, SigningKeyError, load_factory_key, verify_signature
from mofang.store import MetaStore

SIGNATURE_PROBLEM = "signature does not match the certificate (certificate or signature altered)"


@pytest.fixture()
def factory() -> FactoryKey:
    return FactoryKey.generate()


@pytest.fixture()
def log(meta: MetaStore, factory: FactoryKey) -> AuditLog:
    return AuditLog(meta, factory)


def destroy(log: AuditLog, factory: FactoryKey) -> dict[str, Any]:
    """What `mofang destroy ORDER` will do: record the destruction, then certify it."""
    log.record(A.LOGIN, actor="ops", tenant="acme")
    certificate_id = str(uuid.uuid4())
    files = [{"path": "tenants/acme/orders/o1/data.parquet", "sha256": hashlib.sha256(b"a").hexdigest(), "bytes": 10},
             {"path": "tenants/acme/orders/o1/model.bin", "sha256": hashlib.sha256(b"b").hexdigest(), "bytes": 32}]
    event = log.record(A.ORDER_DESTROYED, actor="ops", tenant="acme", object="orders/o1",
                       details={"certificate_id": certificate_id, "files": 2, "key_id": "acme-o1"})
    return issue_certificate(factory, certificate_id=certificate_id, what="order", tenant="acme", order="o1",
                             files=files, keys_shredded=[{"key_id": "acme-o1", "master_key_id": "m1"}],
                             destroyed_by="ops", audit_seq=event.seq, audit_hash=event.hash)


def test_a_certificate_round_trips_through_json(log: AuditLog, factory: FactoryKey) -> None:
    doc = json.loads(json.dumps(destroy(log, factory)))
    body = doc["certificate"]
    assert body["file_count"] == 2 and body["total_bytes"] == 42 and body["factory_key_id"] == factory.key_id
    assert body["audit_seq"] == 2 and body["destroyed_at"].endswith("+00:00")
    assert doc["public_key"] == factory.public_pem()
    assert verify_certificate(doc, trusted_public_pem=factory.public_pem(), audit=log) == []


TAMPERS = {
    "tenant": lambda c: c.update(tenant="other"),
    "order": lambda c: c.update(order="o2"),
    "what": lambda c: c.update(what="tenant", order=None),
    "file hash": lambda c: c["files"][0].update(sha256="0" * 64),
    "file path": lambda c: c["files"][1].update(path="tenants/acme/orders/o1/other.bin"),
    "file dropped": lambda c: c.update(files=c["files"][:1], file_count=1, total_bytes=10),
    "total bytes": lambda c: c.update(total_bytes=43),
    "key": lambda c: c["keys_shredded"][0].update(key_id="acme-o2"),
    "time": lambda c: c.update(destroyed_at="2020-01-01T00:00:00+00:00"),
    "by whom": lambda c: c.update(destroyed_by="mallory"),
    "audit seq": lambda c: c.update(audit_seq=1),
    "certificate id": lambda c: c.update(certificate_id=str(uuid.uuid4())),
    "extra field": lambda c: c.update(note="x"),
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_changing_any_field_breaks_the_signature(log: AuditLog, factory: FactoryKey, tamper: str) -> None:
    doc = copy.deepcopy(destroy(log, factory))
    TAMPERS[tamper](doc["certificate"])
    assert SIGNATURE_PROBLEM in verify_certificate(doc)


def test_a_changed_signature_is_detected(log: AuditLog, factory: FactoryKey) -> None:
    doc = destroy(log, factory)
    signature = bytearray(base64.b64decode(doc["signature"]))
    signature[5] ^= 0x01
    assert verify_certificate({**doc, "signature": base64.b64encode(signature).decode()}) == [SIGNATURE_PROBLEM]
    assert verify_certificate({**doc, "signature": "not base64!"}) == ["signature is not valid base64"]


def test_a_swapped_key_is_detected(log: AuditLog, factory: FactoryKey) -> None:
    doc = destroy(log, factory)
    mallory = FactoryKey.generate()
    problems = verify_certificate({**doc, "public_key": mallory.public_pem()})
    assert SIGNATURE_PROBLEM in problems and any("(key swapped)" in p for p in problems)
    # Re-issued under another key, the document is self-consistent: only the trusted key exposes it.
    forged = issue_certificate(mallory, **{**doc["certificate"], "factory_key_id": mallory.key_id})
    assert verify_certificate(forged) == []
    assert verify_certificate(forged, trusted_public_pem=factory.public_pem()) == [
        f"signed by key {mallory.key_id}, not the trusted factory key {factory.key_id}"]
    assert verify_certificate(doc, trusted_public_pem=mallory.public_pem()) == [
        f"signed by key {factory.key_id}, not the trusted factory key {mallory.key_id}"]
    assert "not an Ed25519 public key" in verify_certificate({**doc, "public_key": "junk"})[0]


def test_the_audit_log_must_hold_the_certified_event(log: AuditLog, factory: FactoryKey, meta: MetaStore) -> None:
    doc = destroy(log, factory)
    seq = doc["certificate"]["audit_seq"]
    login = issue_certificate(factory, **{**doc["certificate"], "audit_seq": 1,
                                          "audit_hash": log.event(1)["hash"]})
    assert any("records 'login', not 'order.destroyed'" in p for p in verify_certificate(login, audit=log))
    wrong_hash = issue_certificate(factory, **{**doc["certificate"], "audit_hash": "a" * 64})
    assert any(f"audit event {seq} has hash" in p for p in verify_certificate(wrong_hash, audit=log))
    missing = issue_certificate(factory, **{**doc["certificate"], "audit_seq": 99})
    assert verify_certificate(missing, audit=log) == [
        "audit event 99 that recorded the destruction is not in the audit log"]
    other_id = issue_certificate(factory, **{**doc["certificate"], "certificate_id": str(uuid.uuid4())})
    assert any("names certificate" in p for p in verify_certificate(other_id, audit=log))

    with meta.engine.begin() as conn:
        conn.execute(text("update audit_events set actor = 'nobody' where seq = :s"), {"s": seq})
    assert verify_certificate(doc, audit=log) == [f"event {seq}: hash does not match its content (edited)"]


@pytest.mark.parametrize(("fields", "match"), [
    ({"files": [{"path": "/etc/passwd", "sha256": "0" * 64, "bytes": 1}]}, "relative POSIX path"),
    ({"files": [{"path": "a/../../b", "sha256": "0" * 64, "bytes": 1}]}, "relative POSIX path"),
    ({"files": [{"path": "a", "sha256": "xyz", "bytes": 1}]}, "sha256"),
    ({"order": None}, "'order' is required"),
    ({"destroyed_at": "2024-01-01T08:00:00+08:00"}, "UTC"),
    ({"color": "red"}, "color"),
    ({"file_count": 5}, "file_count 5"),
])
def test_bad_fields_are_refused_at_issue(factory: FactoryKey, fields: dict[str, Any], match: str) -> None:
    base = {"what": "order", "tenant": "acme", "order": "o1", "files": [], "keys_shredded": [],
            "destroyed_by": "ops", "audit_seq": 1, "audit_hash": "0" * 64}
    with pytest.raises(CertificateError, match=match):
        issue_certificate(factory, **{**base, **fields})


def test_malformed_documents_are_reported(log: AuditLog, factory: FactoryKey) -> None:
    doc = destroy(log, factory)
    assert verify_certificate([]) == ["not a certificate document (expected a JSON object)"]  # type: ignore[arg-type]
    assert verify_certificate({"certificate": {}}) == ["certificate document lacks signature, public_key"]
    problems = verify_certificate({**doc, "certificate": {**doc["certificate"], "audit_seq": "x"}})
    assert any(p.startswith("certificate content is invalid: audit_seq") for p in problems)


# -- the factory key ---------------------------------------------------------------------------------
def test_the_factory_key_is_created_once_and_kept_private(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOFANG_FACTORY_KEY", raising=False)
    key = load_factory_key(home)
    path = home / "factory_ed25519.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(home.stat().st_mode) == 0o700
    assert load_factory_key(home).key_id == key.key_id
    assert [p.name for p in home.iterdir()] == ["factory_ed25519.pem"]  # no temporary file left behind
    raw = serialization.load_pem_public_key(key.public_pem().encode()).public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key.key_id == hashlib.sha256(raw).hexdigest()[:16]
    os.chmod(path, 0o640)
    with pytest.raises(SigningKeyError, match="group or others"):
        load_factory_key(home)


def test_the_factory_key_can_come_from_the_environment(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = FactoryKey.generate()
    monkeypatch.setenv("MOFANG_FACTORY_KEY", key.private_pem().decode())
    assert load_factory_key(home).key_id == key.key_id and not (home / "factory_ed25519.pem").exists()
    monkeypatch.setenv("MOFANG_FACTORY_KEY", "not a key")
    with pytest.raises(SigningKeyError, match="MOFANG_FACTORY_KEY"):
        load_factory_key(home)


def test_signatures_verify_only_with_the_right_key_and_data() -> None:
    key, other = FactoryKey.generate(), FactoryKey.generate()
    signature = key.sign(b"data")
    assert verify_signature(key.public_pem(), b"data", signature)
    assert not verify_signature(key.public_pem(), b"datA", signature)
    assert not verify_signature(other.public_pem(), b"data", signature)
    assert not verify_signature("junk", b"data", signature)
    assert repr(key) == f"FactoryKey(key_id={key.key_id!r})"
