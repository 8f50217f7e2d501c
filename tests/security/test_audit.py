"""The audit chain: appends, verification of every link, signed checkpoints, concurrent writers."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import text

from mofang.security import audit as A
from mofang.security.audit import AuditError, AuditLog
from mofang.security.signing import FactoryKey
from mofang.store import MetaStore
from tests.conftest import postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, home) -> MetaStore:
    url = None if request.param == "sqlite" else postgres_url(fresh_schema=True)
    meta = MetaStore(url)
    yield meta
    meta.dispose()


ACTIONS = [A.LOGIN, A.ORDER_SUBMITTED, A.DATA_READ, A.MODEL_DELIVERED, A.KEY_CREATED, A.KEY_ROTATED,
           A.ACCESS_DENIED, "custom.thing"]


def fill(log: AuditLog, n: int = 20) -> list[Any]:
    events = []
    for i in range(n):
        tenant = None if i % 5 == 0 else ("acme" if i % 2 else "大华")
        details = {"i": i, "ratio": 1e-07 * i, "note": "café ✓", "rows": [1, None, True]} if i % 3 else None
        events.append(log.record(ACTIONS[i % len(ACTIONS)], actor=f"user{i % 3}", tenant=tenant,
                                 object=f"orders/o{i}", details=details))
    return events


def sql(meta: MetaStore, statement: str, **params: Any) -> list[Any]:
    with meta.engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def raw(meta: MetaStore, column: str, seq: int) -> Any:
    return sql(meta, f"select cast({column} as text) from audit_events where seq = :s", s=seq)[0][0]


def set_column(meta: MetaStore, column: str, seq: int, value: Any) -> None:
    """An UPDATE straight in the database, bypassing the AuditLog (what an intruder would do)."""
    target = "cast(:v as json)" if column == "details" and meta.engine.dialect.name == "postgresql" else ":v"
    sql(meta, f"update audit_events set {column} = {target} where seq = :s", v=value, s=seq)


def test_a_chain_of_events_verifies_and_can_be_read_back(store: MetaStore) -> None:
    log = AuditLog(store)
    events = fill(log)
    assert [e.seq for e in events] == list(range(1, 21))
    assert events[0].prev_hash == A.GENESIS_HASH and events[1].prev_hash == events[0].hash
    result = log.verify()
    assert result.ok and result.events == 20 and result.problems == []
    assert (result.head_seq, result.head_hash) == (20, events[-1].hash)
    rows = log.events()
    assert [r["hash"] for r in rows] == [e.hash for e in events]
    assert rows[1]["details"] == {"i": 1, "ratio": 1e-07, "note": "café ✓", "rows": [1, None, True]}
    assert {r["tenant"] for r in log.events(tenant="大华")} == {"大华"}
    assert [r["seq"] for r in log.events(action=A.LOGIN)] == [1, 9, 17]
    assert log.event(3)["object"] == "orders/o2" and log.event(99) is None


EDITS = {"at": "2020-01-01T00:00:00.000000+00:00", "actor": "mallory", "tenant_id": "intruder",
         "action": "nothing.happened", "object": "elsewhere", "details": '{"i": 1}', "prev_hash": "f" * 64,
         "hash": "e" * 64}


@pytest.mark.parametrize("seq", [1, 10, 20])
def test_editing_any_column_of_any_event_is_detected(store: MetaStore, seq: int) -> None:
    log = AuditLog(store)
    fill(log)
    for column, value in EDITS.items():
        original = raw(store, column, seq)
        set_column(store, column, seq, value)
        problems = log.verify().problems
        assert f"event {seq}: hash does not match its content (edited)" in problems, (column, problems)
        if column == "prev_hash":
            before = f"event {seq - 1}" if seq > 1 else "the start of the chain"
            assert f"event {seq}: prev_hash does not match {before} (deleted or reordered)" in problems
        if column == "hash" and seq < 20:
            assert f"event {seq + 1}: prev_hash does not match event {seq} (deleted or reordered)" in problems
        set_column(store, column, seq, original)
        assert log.verify().ok, column


@pytest.mark.parametrize("seq", [1, 10, 20])
def test_renumbering_an_event_is_detected(store: MetaStore, seq: int) -> None:
    log = AuditLog(store)
    fill(log)
    sql(store, "update audit_events set seq = :n where seq = :s", n=seq + 500, s=seq)
    problems = log.verify().problems
    gap = "seq gap: the chain starts at event 2, not 1 (deleted)" if seq == 1 else \
        f"seq gap between {seq - 1} and {seq + 1 if seq < 20 else 520} (deleted)"
    assert gap in problems
    assert f"event {seq + 500}: content was recorded as event {seq} (reordered)" in problems


def test_deleting_an_event_is_detected(store: MetaStore) -> None:
    log = AuditLog(store)
    fill(log)
    sql(store, "delete from audit_events where seq = 7")
    assert log.verify().problems == ["seq gap between 6 and 8 (deleted)",
                                     "event 8: prev_hash does not match event 6 (deleted or reordered)"]
    sql(store, "delete from audit_events where seq = 1")
    problems = log.verify().problems
    assert "seq gap: the chain starts at event 2, not 1 (deleted)" in problems
    assert "event 2: prev_hash does not match the start of the chain (deleted or reordered)" in problems


def test_swapping_two_events_is_detected(store: MetaStore) -> None:
    log = AuditLog(store)
    fill(log)
    # swap the seqs of events 5 and 6
    sql(store, "update audit_events set seq = -1 where seq = 5")
    sql(store, "update audit_events set seq = 5 where seq = 6")
    sql(store, "update audit_events set seq = 6 where seq = -1")
    problems = log.verify().problems
    assert "event 5: content was recorded as event 6 (reordered)" in problems
    assert "event 6: content was recorded as event 5 (reordered)" in problems
    assert "event 5: prev_hash does not match event 4 (deleted or reordered)" in problems
    sql(store, "update audit_events set seq = -1 where seq = 5")
    sql(store, "update audit_events set seq = 5 where seq = 6")
    sql(store, "update audit_events set seq = 6 where seq = -1")
    assert log.verify().ok

    # swap everything but the seqs of events 11 and 12
    columns = [c for c in EDITS]
    first = {c: raw(store, c, 11) for c in columns}
    second = {c: raw(store, c, 12) for c in columns}
    for c in columns:
        set_column(store, c, 11, second[c])
        set_column(store, c, 12, first[c])
    problems = log.verify().problems
    assert "event 11: content was recorded as event 12 (reordered)" in problems
    assert "event 12: content was recorded as event 11 (reordered)" in problems
    assert "event 11: prev_hash does not match event 10 (deleted or reordered)" in problems


def test_a_signed_checkpoint_catches_a_cut_off_tail(store: MetaStore) -> None:
    factory = FactoryKey.generate()
    log = AuditLog(store, factory)
    fill(log)
    anchor = log.checkpoint()
    assert (anchor["seq"], anchor["hash"], anchor["key_id"]) == (20, log.head()[1], factory.key_id)
    log.record(A.LOGIN, actor="later")
    assert log.verify(anchor=anchor).ok  # growing past the checkpoint is fine

    sql(store, "delete from audit_events where seq >= 18")
    assert log.verify().ok  # a bare chain cannot see a missing tail...
    assert log.verify(anchor=anchor).problems == [
        "the chain ends at event 17 but the checkpoint names event 20 (truncated)"]  # ...the checkpoint can
    for i in range(3):  # cut and re-grown: seq 20 exists again, with another hash
        log.record(A.LOGIN, actor=f"forger{i}")
    assert log.verify(anchor=anchor).problems == ["event 20: hash differs from the checkpoint (rewritten)"]


def test_a_checkpoint_is_only_trusted_with_its_signature(meta: MetaStore) -> None:
    factory = FactoryKey.generate()
    log = AuditLog(meta, factory)
    fill(log, 5)
    anchor = log.checkpoint()
    forged = {**anchor, "seq": 3, "hash": log.event(3)["hash"]}
    assert log.verify(anchor=forged).problems == [
        "checkpoint signature does not match its content (checkpoint altered)"]
    other = AuditLog(meta, FactoryKey.generate())
    assert "not this factory's key" in other.verify(anchor=anchor).problems[0]
    assert "checkpoint is malformed" in log.verify(anchor={"seq": 1}).problems[0]
    with pytest.raises(AuditError, match="factory key"):
        AuditLog(meta).checkpoint()
    with pytest.raises(AuditError, match="factory key"):
        AuditLog(meta).verify(anchor=anchor)
    empty = AuditLog(MetaStore(f"sqlite:///{meta.url.removeprefix('sqlite:///')}.empty"), factory)
    assert empty.checkpoint()["seq"] == 0 and empty.verify(anchor=empty.checkpoint()).ok
    empty.meta.dispose()


@pytest.mark.parametrize("column", ["details", "hash", "at"])
def test_flipping_any_single_byte_of_an_event_is_detected(meta: MetaStore, column: str) -> None:
    log = AuditLog(meta)
    fill(log, 12)
    seq = 11  # details {"i": 10, "ratio": 1e-06, "note": "café ✓", ...}: exponent, escapes, spaces
    original = raw(meta, column, seq)
    data = original.encode()
    flips = 0
    for position in range(len(data)):
        for mask in (0x01, 0x20):
            changed = bytearray(data)
            changed[position] ^= mask
            try:
                value = changed.decode()
            except UnicodeDecodeError:
                continue  # not storable as text; a multi-byte character's other bytes are still covered
            set_column(meta, column, seq, value)
            assert not log.verify().ok, (position, mask, value)
            flips += 1
    set_column(meta, column, seq, original)
    assert log.verify().ok and flips >= len(data)


@pytest.mark.parametrize("details", [
    {"password": "x"}, {"api_key": "x"}, {"apiKey": "x"}, {"token": "x"}, {"access_token": "x"},
    {"client_secret": "x"}, {"AWS_SECRET_ACCESS_KEY": "x"}, {"auth": {"Password": "x"}},
    {"keys": [{"private_key": "x"}]}, {"note": "-----BEGIN PRIVATE KEY-----\nabc"},
])
def test_secrets_are_never_recorded(meta: MetaStore, details: dict[str, Any]) -> None:
    log = AuditLog(meta)
    with pytest.raises(AuditError, match="secret"):
        log.record(A.KEY_ROTATED, actor="ops", details=details)
    assert log.count() == 0


def test_key_ids_and_counts_are_not_secrets(meta: MetaStore) -> None:
    log = AuditLog(meta)
    details = {"key_id": "k1", "master_key_id": "m1", "public_key": "PEM", "max_tokens": 5, "tokens": 9}
    assert log.record(A.KEY_ROTATED, actor="ops", details=details).details == details
    for bad, match in [({"x": float("nan")}, "plain JSON"), ({"x": b"raw"}, "plain JSON")]:
        with pytest.raises(AuditError, match=match):
            log.record(A.DATA_READ, actor="ops", details=bad)
    with pytest.raises(AuditError, match="non-empty actor"):
        log.record(A.DATA_READ, actor="")
    with pytest.raises(AuditError, match="longer than 64"):
        log.record("x" * 65, actor="ops")
    assert log.count() == 1 and log.verify().ok


def test_concurrent_writers_keep_one_linear_chain(store: MetaStore) -> None:
    # two writers with their own engines, as two processes would have
    writers = [AuditLog(MetaStore(store.url)) for _ in range(2)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            start.wait()
            for i in range(25):
                writers[index].record(A.DATA_READ, actor=f"writer{index}", object=str(i))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in writers:
        w.meta.dispose()
    assert errors == []
    log = AuditLog(store)
    result = log.verify()
    assert result.ok and result.events == 50, result.problems
    events = log.events()
    assert [e["seq"] for e in events] == list(range(1, 51))
    for index in range(2):
        assert [e["object"] for e in events if e["actor"] == f"writer{index}"] == [str(i) for i in range(25)]
