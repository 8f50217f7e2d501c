"""The audit trail: an append-only, hash-chained log of security-relevant events, with signed checkpoints."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from mofang.core.errors import MofangError
from mofang.security.signing import FactoryKey, verify_signature
from mofang.security.tables import AuditEvent
from mofang.store.meta import MetaStore

GENESIS_HASH = "0" * 64

# Known actions; any other string is accepted too.
LOGIN = "login"
LOGIN_FAILED = "login.failed"  # a key refused: malformed, unknown, wrong, revoked or expired (details.reason)
ORDER_SUBMITTED = "order.submitted"
DATA_READ = "data.read"
MODEL_DELIVERED = "model.delivered"
KEY_CREATED = "key.created"
KEY_ROTATED = "key.rotated"
ORDER_DESTROYED = "order.destroyed"
TENANT_DESTROYED = "tenant.destroyed"
ACCESS_DENIED = "access.denied"

_APPEND_ATTEMPTS = 20
_REORDER_SEARCH = 1000  # how far from its place verify looks for the seq an event was recorded under
_REORDER_DIAGNOSES = 20
# Dialects whose JSON column keeps the text exactly as written (PostgreSQL `json`, not `jsonb`; SQLite TEXT).
_VERBATIM_JSON = {"sqlite", "postgresql"}
_SECRET_WORDS = {"password", "passwd", "pwd", "passphrase", "secret", "secrets", "credential", "credentials",
                 "apikey", "privatekey"}
_SECRET_LAST_WORDS = {"key", "token"}  # api_key, data_key, access_token; but key_id and max_tokens are fine
_PRIVATE_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


class AuditError(MofangError):
    """An audit event that cannot be recorded, or a checkpoint that cannot be made or used."""


@dataclass
class VerifyResult:
    """What `AuditLog.verify` found: ok when no problem was found in `events` events."""

    events: int
    problems: list[str] = field(default_factory=list)
    head_seq: int = 0
    head_hash: str = GENESIS_HASH

    @property
    def ok(self) -> bool:
        return not self.problems


def canonical_json(value: Any) -> bytes:
    """The exact bytes that are hashed or signed: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def event_hash(seq: int, at: str, actor: str, tenant: str | None, action: str, object: str,
               details: dict[str, Any], prev_hash: str) -> str:
    """sha256 hex of the canonical JSON of one event's content and the hash of the event before it."""
    content = {"seq": seq, "at": at, "actor": actor, "tenant": tenant, "action": action, "object": object,
               "details": details, "prev_hash": prev_hash}
    return hashlib.sha256(canonical_json(content)).hexdigest()


def _checkpoint_payload(seq: int, hash: str, at: str, key_id: str) -> bytes:
    return canonical_json({"seq": seq, "hash": hash, "at": at, "key_id": key_id})


@dataclass(frozen=True)
class _Row:
    seq: int
    at: str
    actor: str
    tenant: str | None
    action: str
    object: str
    details_text: str | None
    prev_hash: str
    hash: str

    def details(self) -> dict[str, Any]:
        value = json.loads(self.details_text) if self.details_text is not None else None
        if not isinstance(value, dict):
            raise ValueError("details are not a JSON object")
        return value

    def computed_hash(self) -> str:
        return event_hash(self.seq, self.at, self.actor, self.tenant, self.action,
                          self.object, self.details(), self.prev_hash)

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "tenant": self.tenant,
                "action": self.action, "object": self.object, "details": self.details(),
                "prev_hash": self.prev_hash, "hash": self.hash}


class AuditLog:
    """Append and verify the audit chain kept in the metadata store's `audit_events` table.

    Each event's hash covers its content and the previous event's hash, so editing, deleting or
    reordering any event breaks the chain; a checkpoint signed by the factory key pins the head, so
    cutting off the tail is caught too.
    """

    def __init__(self, meta: MetaStore, factory: FactoryKey | None = None) -> None:
        self.meta = meta
        self.factory = factory

    # -- writing ---------------------------------------------------------------------------------
    def record(self, action: str, *, actor: str, tenant: str | None = None, object: str = "",
               details: dict[str, Any] | None = None) -> AuditEvent:
        """Append one event in its own transaction and return it (seq and hash filled in).

        Writers are serialized by a lock taken before the last event is read, and a conflicting
        insert is retried, so concurrent writers never fork the chain.
        """
        details = _clean_details(details)
        for name, value, limit in (("action", action, 64), ("actor", actor, 128), ("tenant", tenant, 64)):
            if name != "tenant" and not value:
                raise AuditError(f"audit event needs a non-empty {name}")
            if value is not None and len(value) > limit:
                raise AuditError(f"audit event {name} is longer than {limit} characters: {value[:40]!r}...")
        try:
            canonical_json([action, actor, tenant, object])
        except (TypeError, UnicodeEncodeError) as exc:
            raise AuditError(f"audit event fields must be plain text: {exc}") from None
        last_error: Exception | None = None
        for attempt in range(_APPEND_ATTEMPTS):
            try:
                with self.meta.session() as s:
                    seq, prev_hash = self._lock_head(s)
                    at = datetime.now(UTC).isoformat(timespec="microseconds")
                    event = AuditEvent(seq=seq + 1, at=at, actor=actor, tenant_id=tenant, action=action,
                                       object=object, details=details, prev_hash=prev_hash,
                                       hash=event_hash(seq + 1, at, actor, tenant, action, object, details,
                                                       prev_hash))
                    s.add(event)
                    s.flush()
                return event
            except (IntegrityError, OperationalError) as exc:  # a concurrent append won, or the lock timed out
                last_error = exc
                time.sleep(random.uniform(0, 0.01 * (attempt + 1)))
        raise AuditError(f"could not append to the audit log after {_APPEND_ATTEMPTS} attempts: "
                         f"{last_error}") from last_error

    def _lock_head(self, s: Session) -> tuple[int, str]:
        """Take the append lock and return (seq, hash) of the last event ((0, GENESIS_HASH) when empty)."""
        dialect = self.meta.engine.dialect.name
        query = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        if dialect == "sqlite":
            # Take SQLite's write lock before reading, unless a transaction is already open (then the
            # unique seq and the retry keep the chain linear).
            dbapi = s.connection().connection.dbapi_connection
            if not getattr(dbapi, "in_transaction", True):
                s.connection().exec_driver_sql("BEGIN IMMEDIATE")
        elif dialect == "postgresql":
            # A self-conflicting table lock rather than FOR UPDATE on the last row: it also covers the
            # empty table, and a writer that waited sees the rows committed meanwhile. Readers are not blocked.
            table = s.connection().dialect.identifier_preparer.format_table(AuditEvent.__table__)
            s.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        else:
            query = query.with_for_update()
        row = s.execute(query).first()
        return (0, GENESIS_HASH) if row is None else (int(row.seq), str(row.hash))

    # -- reading ---------------------------------------------------------------------------------
    def _rows(self, tenant: str | None = None, action: str | None = None,
              seq: int | None = None) -> Iterator[_Row]:
        """Events in seq order, as stored (details as raw text, so a damaged value can be reported)."""
        query = select(AuditEvent.seq, AuditEvent.at, AuditEvent.actor, AuditEvent.tenant_id, AuditEvent.action,
                       AuditEvent.object, cast(AuditEvent.details, Text).label("details"), AuditEvent.prev_hash,
                       AuditEvent.hash).order_by(AuditEvent.seq)
        if tenant is not None:
            query = query.where(AuditEvent.tenant_id == tenant)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        if seq is not None:
            query = query.where(AuditEvent.seq == seq)
        with self.meta.engine.connect() as conn:
            for r in conn.execution_options(yield_per=1000).execute(query):
                yield _Row(r.seq, r.at, r.actor, r.tenant_id, r.action, r.object, r.details, r.prev_hash, r.hash)

    def events(self, tenant: str | None = None, action: str | None = None) -> list[dict[str, Any]]:
        """The events (optionally of one tenant and/or action) as dicts, in order."""
        result = []
        for row in self._rows(tenant, action):
            try:
                result.append(row.as_dict())
            except ValueError as exc:
                raise AuditError(f"event {row.seq}: {exc}; run `mofang audit verify`") from None
        return result

    def event(self, seq: int) -> dict[str, Any] | None:
        """One event as a dict, or None when there is no event with that seq."""
        rows = list(self._rows(seq=seq))
        return rows[0].as_dict() if rows else None

    def event_intact(self, seq: int) -> str | None:
        """None when event `seq` exists and its hash matches its content; otherwise what is wrong."""
        rows = list(self._rows(seq=seq))
        return self._content_problem(rows[0]) if rows else f"event {seq} is not in the audit log"

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last event; (0, GENESIS_HASH) when the log is empty."""
        with self.meta.engine.connect() as conn:
            row = conn.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc())
                               .limit(1)).first()
        return (0, GENESIS_HASH) if row is None else (int(row.seq), str(row.hash))

    def count(self) -> int:
        with self.meta.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(AuditEvent)).scalar_one())

    # -- verifying -------------------------------------------------------------------------------
    def verify(self, anchor: dict[str, Any] | None = None) -> VerifyResult:
        """Check every event's hash and every link; with `anchor` (from `checkpoint`), also that the chain
        still holds that exact event, which catches a cut-off tail."""
        result = VerifyResult(events=0)
        prev_seq, prev_hash = 0, GENESIS_HASH
        anchor_seq, anchor_hash = self._check_anchor(anchor, result.problems) if anchor is not None else (None, None)
        anchor_seen = anchor_seq == 0
        broken: list[_Row] = []
        for row in self._rows():
            result.events += 1
            if row.seq != prev_seq + 1:
                if prev_seq == 0:
                    result.problems.append(f"seq gap: the chain starts at event {row.seq}, not 1 (deleted)")
                else:
                    result.problems.append(f"seq gap between {prev_seq} and {row.seq} (deleted)")
            problem = self._content_problem(row)
            if problem is not None:
                result.problems.append(problem)
                broken.append(row)
            if row.prev_hash != prev_hash:
                before = f"event {prev_seq}" if prev_seq else "the start of the chain"
                result.problems.append(f"event {row.seq}: prev_hash does not match {before} (deleted or reordered)")
            if row.seq == anchor_seq:
                anchor_seen = True
                if row.hash != anchor_hash:
                    result.problems.append(f"event {row.seq}: hash differs from the checkpoint (rewritten)")
            prev_seq, prev_hash = row.seq, row.hash
        result.head_seq, result.head_hash = prev_seq, prev_hash
        if anchor_seq is not None and not anchor_seen:
            result.problems.append(f"the chain ends at event {prev_seq} but the checkpoint names event "
                                   f"{anchor_seq} (truncated)")
        self._diagnose_moves(broken, result.problems)
        return result

    def _content_problem(self, row: _Row) -> str | None:
        try:
            details = row.details()
        except ValueError:
            return f"event {row.seq}: details are not a valid JSON object (edited)"
        if self.meta.engine.dialect.name in _VERBATIM_JSON and row.details_text != self._stored_json(details):
            # Same value, different text (e.g. "1e-07" -> "1E-07"): the stored bytes were changed.
            return f"event {row.seq}: details text is not as written (edited)"
        if row.computed_hash() != row.hash:
            return f"event {row.seq}: hash does not match its content (edited)"
        return None

    def _stored_json(self, details: dict[str, Any]) -> str:
        serializer = getattr(self.meta.engine.dialect, "_json_serializer", None) or json.dumps
        return serializer(details)

    def _diagnose_moves(self, broken: list[_Row], problems: list[str]) -> None:
        """For events whose hash fails, look for the seq their content was recorded under (moved rows)."""
        for row in broken[:_REORDER_DIAGNOSES]:
            try:
                details = row.details()
            except ValueError:
                continue
            # The canonical JSON with "seq" cut out: keys sort as ..., prev_hash, seq, tenant.
            rest = {"at": row.at, "actor": row.actor, "action": row.action, "object": row.object,
                    "details": details, "prev_hash": row.prev_hash}
            head = hashlib.sha256(canonical_json(rest)[:-1] + b',"seq":')
            tail = b',"tenant":' + canonical_json(row.tenant) + b"}"
            for candidate in range(max(1, row.seq - _REORDER_SEARCH), row.seq + _REORDER_SEARCH + 1):
                digest = head.copy()
                digest.update(str(candidate).encode() + tail)
                if candidate != row.seq and digest.hexdigest() == row.hash:
                    problems.append(f"event {row.seq}: content was recorded as event {candidate} (reordered)")
                    break

    # -- anchoring -------------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """The current head (seq, hash), signed by the factory key; keep it outside the database."""
        if self.factory is None:
            raise AuditError("a checkpoint needs the factory key (AuditLog(meta, factory=load_factory_key(home)))")
        seq, head_hash = self.head()
        at = datetime.now(UTC).isoformat(timespec="seconds")
        signature = self.factory.sign(_checkpoint_payload(seq, head_hash, at, self.factory.key_id))
        return {"seq": seq, "hash": head_hash, "at": at, "key_id": self.factory.key_id,
                "signature": base64.b64encode(signature).decode()}

    def _check_anchor(self, anchor: dict[str, Any], problems: list[str]) -> tuple[int | None, str | None]:
        if self.factory is None:
            raise AuditError("verifying against a checkpoint needs the factory key")
        try:
            seq, head_hash, at, key_id = int(anchor["seq"]), str(anchor["hash"]), str(anchor["at"]), anchor["key_id"]
            signature = base64.b64decode(str(anchor["signature"]), validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"checkpoint is malformed: {type(exc).__name__}: {exc}")
            return None, None
        if key_id != self.factory.key_id:
            problems.append(f"checkpoint was signed by key {key_id}, not this factory's key {self.factory.key_id}")
            return None, None
        if not verify_signature(self.factory.public_pem(), _checkpoint_payload(seq, head_hash, at, key_id),
                                signature):
            problems.append("checkpoint signature does not match its content (checkpoint altered)")
            return None, None
        return seq, head_hash


def _clean_details(details: dict[str, Any] | None) -> dict[str, Any]:
    """A JSON round-trip copy of the details (what verify will read back), refusing secrets."""
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise AuditError(f"audit details must be a dict, not {type(details).__name__}")
    try:
        clean = json.loads(json.dumps(details, allow_nan=False))
        canonical_json(clean)
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise AuditError(f"audit details must be plain JSON (no NaN, bytes or objects): {exc}") from None
    _refuse_secrets(clean, "details")
    return clean


def _refuse_secrets(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if _looks_secret(key):
                raise AuditError(f"audit {where}.{key}: looks like a secret; the audit log never stores secrets "
                                 "(record a key id or a hash instead)")
            _refuse_secrets(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_secrets(item, f"{where}[{i}]")
    elif isinstance(value, str) and _PRIVATE_PEM.search(value):
        raise AuditError(f"audit {where}: holds a private key; the audit log never stores secrets")


def _looks_secret(name: str) -> bool:
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)]
    if not words:
        return False
    if any(w in _SECRET_WORDS for w in words) or "".join(words) in _SECRET_WORDS:
        return True
    return words[-1] in _SECRET_LAST_WORDS and words[:-1] != ["public"]
