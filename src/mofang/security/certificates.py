"""Destruction certificates: what was destroyed, when and by whom, signed by the factory key and chained
to the audit event that recorded the destruction."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from mofang.core.errors import MofangError
from mofang.security.audit import ORDER_DESTROYED, TENANT_DESTROYED, AuditLog, canonical_json
from mofang.security.signing import FactoryKey, load_public_key, public_key_id, verify_signature

CERTIFICATE_FORMAT = "mofang.destruction-certificate/1"
_HEX64 = r"^[0-9a-f]{64}$"


class CertificateError(MofangError):
    """A destruction certificate that cannot be issued from the given fields."""


class DestroyedFile(BaseModel):
    """One deleted file: its path relative to MOFANG_HOME and its SHA-256 taken before deletion."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str
    sha256: str = Field(pattern=_HEX64)
    bytes: int = Field(ge=0)

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        path = PurePosixPath(value)
        if not value or path.is_absolute() or ".." in path.parts or "\\" in value:
            raise ValueError(f"must be a relative POSIX path inside MOFANG_HOME, got {value!r}")
        return value


class ShreddedKey(BaseModel):
    """A data key that was shredded, and the key that had wrapped it (the master key for a tenant key, the
    tenant's key for an order key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key_id: str = Field(min_length=1)
    master_key_id: str | None = None
    wrapped_by: str | None = None


class DestructionCertificate(BaseModel):
    """The signed statement of one destruction (`mofang destroy ORDER|TENANT`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["mofang.destruction-certificate/1"] = CERTIFICATE_FORMAT
    certificate_id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    what: Literal["order", "tenant"]
    tenant: str = Field(min_length=1)
    order: str | None = None
    files: list[DestroyedFile]
    file_count: int = Field(ge=0)
    total_bytes: int = Field(ge=0)
    keys_shredded: list[ShreddedKey]
    destroyed_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    destroyed_by: str = Field(min_length=1)
    audit_seq: int = Field(ge=1)
    audit_hash: str = Field(pattern=_HEX64)
    factory_key_id: str = Field(pattern=r"^[0-9a-f]{16}$")

    @field_validator("certificate_id")
    @classmethod
    def _uuid(cls, value: str) -> str:
        return str(uuid.UUID(value))

    @field_validator("destroyed_at")
    @classmethod
    def _utc(cls, value: str) -> str:
        offset = datetime.fromisoformat(value).utcoffset()
        if offset is None or offset.total_seconds() != 0:
            raise ValueError(f"must be an ISO-8601 time in UTC, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DestructionCertificate:
        if (self.what == "order") != (self.order is not None):
            raise ValueError("'order' is required when what='order' and must be absent when what='tenant'")
        if self.file_count != len(self.files):
            raise ValueError(f"file_count {self.file_count} but {len(self.files)} files are listed")
        if self.total_bytes != sum(f.bytes for f in self.files):
            raise ValueError(f"total_bytes {self.total_bytes} is not the sum of the files' sizes")
        return self


def issue_certificate(factory: FactoryKey, **fields: Any) -> dict[str, Any]:
    """Build and sign a certificate; returns {"certificate": {...}, "signature": base64, "public_key": PEM}.

    `file_count` and `total_bytes` are computed from `files` when omitted; `factory_key_id` is the
    factory's. Record the destruction in the audit log first (pass a `certificate_id` to name the
    certificate in that event's details), then give its seq and hash here as `audit_seq`/`audit_hash`.
    """
    files = fields.get("files", [])
    fields.setdefault("file_count", len(files))
    try:
        fields.setdefault("total_bytes", sum(int(_get(f, "bytes")) for f in files))
    except (KeyError, TypeError, ValueError):
        pass  # a malformed file entry: validation below says which
    if fields.setdefault("factory_key_id", factory.key_id) != factory.key_id:
        raise CertificateError(f"factory_key_id {fields['factory_key_id']} is not the signing key {factory.key_id}")
    try:
        certificate = DestructionCertificate(**fields)
    except ValidationError as exc:
        raise CertificateError(f"destruction certificate: {_describe(exc)}") from None
    body = certificate.model_dump(mode="json")
    return {"certificate": body, "signature": base64.b64encode(factory.sign(canonical_json(body))).decode(),
            "public_key": factory.public_pem()}


def verify_certificate(doc: dict[str, Any], *, trusted_public_pem: str | None = None,
                       audit: AuditLog | None = None) -> list[str]:
    """The problems found with a certificate document; an empty list means it is valid.

    Checks the signature over the canonical JSON of "certificate"; that the signing key is the one the
    certificate names and, when given, the trusted factory key (without it, a certificate re-signed by
    another key is only internally consistent); and, when given the audit log, that the recorded
    destruction event exists, is intact and has the certified hash.
    """
    if not isinstance(doc, dict):
        return ["not a certificate document (expected a JSON object)"]
    missing = [k for k in ("certificate", "signature", "public_key") if k not in doc]
    if missing:
        return [f"certificate document lacks {', '.join(missing)}"]
    problems: list[str] = []
    body = doc["certificate"]
    certificate: DestructionCertificate | None = None
    if not isinstance(body, dict):
        return ["'certificate' is not a JSON object"]
    try:
        certificate = DestructionCertificate(**body)
    except (ValidationError, TypeError) as exc:
        problems.append(f"certificate content is invalid: {_describe(exc)}")

    public_key = load_public_key(doc["public_key"]) if isinstance(doc["public_key"], str) else None
    if public_key is None:
        problems.append("public_key is not an Ed25519 public key in PEM form")
    else:
        signer_id = public_key_id(public_key)
        if certificate is not None and signer_id != certificate.factory_key_id:
            problems.append(f"certificate names factory key {certificate.factory_key_id} but carries key {signer_id} "
                            "(key swapped)")
        if trusted_public_pem is not None:
            trusted = load_public_key(trusted_public_pem)
            if trusted is None:
                problems.append("the trusted public key is not an Ed25519 public key in PEM form")
            elif public_key_id(trusted) != signer_id:
                problems.append(f"signed by key {signer_id}, not the trusted factory key {public_key_id(trusted)}")
        try:
            signature = base64.b64decode(str(doc["signature"]), validate=True)
        except (binascii.Error, ValueError):
            problems.append("signature is not valid base64")
        else:
            try:
                payload = canonical_json(body)
            except (TypeError, ValueError):
                payload = b""
            if not verify_signature(doc["public_key"], payload, signature):
                problems.append("signature does not match the certificate (certificate or signature altered)")

    if audit is not None and certificate is not None:
        problems.extend(_check_audit(certificate, audit))
    return problems


def _check_audit(certificate: DestructionCertificate, audit: AuditLog) -> list[str]:
    seq = certificate.audit_seq
    damage = audit.event_intact(seq)
    if damage is not None:
        return [damage if "not in the audit log" not in damage
                else f"audit event {seq} that recorded the destruction is not in the audit log"]
    event = audit.event(seq)
    assert event is not None  # event_intact found it
    problems = []
    if event["hash"] != certificate.audit_hash:
        problems.append(f"audit event {seq} has hash {event['hash'][:12]}..., not the certified "
                        f"{certificate.audit_hash[:12]}...")
    expected = ORDER_DESTROYED if certificate.what == "order" else TENANT_DESTROYED
    if event["action"] != expected:
        problems.append(f"audit event {seq} records {event['action']!r}, not {expected!r}")
    if event["tenant"] != certificate.tenant:
        problems.append(f"audit event {seq} is for tenant {event['tenant']!r}, not {certificate.tenant!r}")
    named = event["details"].get("certificate_id")
    if named is not None and named != certificate.certificate_id:
        problems.append(f"audit event {seq} names certificate {named}, not {certificate.certificate_id}")
    return problems


def _get(item: Any, name: str) -> Any:
    return getattr(item, name) if isinstance(item, BaseModel) else item[name]


def _describe(exc: ValidationError | TypeError) -> str:
    if isinstance(exc, TypeError):
        return str(exc)
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'certificate'}: {e['msg']}" for e in exc.errors())
