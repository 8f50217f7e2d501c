"""Encryption at rest: after a full order with personal data, no raw PII value is anywhere under
MOFANG_HOME, and a changed byte in an encrypted job artifact is caught."""

from __future__ import annotations

import secrets
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.demo import write_demo
from mofang.security.crypto import (
    StreamEncryptor,
    TamperedError,
    decrypt_bytes,
    encrypt_bytes,
    is_encrypted,
    plaintext_size,
)
from mofang.security.scratch import plaintext_files
from mofang.security.vault import open_vault

PII_COLUMNS = ("客户姓名", "身份证号", "手机号")


@pytest.mark.slow
def test_no_raw_pii_under_home_after_a_demo_order(tmp_path: Path, home: Path, meta) -> None:
    order = write_demo(tmp_path / "demo", rows=800, minutes=0.25)
    result = CliRunner().invoke(app, ["run", str(order)], env={"MOFANG_HOME": str(home)})
    assert result.exit_code == 0, result.output
    raw = pd.read_csv(tmp_path / "demo" / "loan_book_gbk.csv", encoding="gbk", dtype=str)
    values = {v for column in PII_COLUMNS for v in raw[column].dropna().unique()}
    assert len(values) > 1500
    # a 2-character name is 4 bytes in GBK: such short needles turn up by chance in megabytes of ciphertext
    needles = [n for v in values for n in {v.encode("utf-8"), v.encode("gbk")} if len(n) >= 6]
    files = [p for p in home.rglob("*") if p.is_file()]
    assert len(files) > 30
    found = {}
    for path in files:
        data = path.read_bytes()
        hits = [n for n in needles if n in data]
        if hits:
            found[str(path.relative_to(home))] = len(hits)
    assert not found, f"raw personal data at rest: {found}"

    # secrets hygiene: what people read — the run's console output, the decrypted report, data card,
    # model card and bundle metadata — holds no raw PII and no key material either
    vault = open_vault(meta, home)
    readable = {"console": result.output.encode("utf-8")}
    for kind in ("bundle", "dataset"):
        for path in (home / "tenants" / "demo-bank" / "artifacts" / kind).rglob("*"):
            if path.is_file() and path.suffix in {".html", ".json", ".md"}:
                readable[str(path.relative_to(home))] = vault.read_any("demo-bank", path)
    assert any(name.endswith("data_card.html") for name in readable)
    assert any(name.endswith("report.html") for name in readable)
    master = (home / "master.key").read_bytes()
    secrets = [master, master.hex().encode(), __import__("base64").b64encode(master)]
    leaks = {name: [n.decode("utf-8", "replace") for n in needles if n in data][:3]
             for name, data in readable.items() if any(n in data for n in needles)}
    assert not leaks, f"raw personal data in what people read: {leaks}"
    assert not [name for name, data in readable.items() if any(k in data for k in secrets)]

    jobs = home / "tenants" / "demo-bank" / "jobs"
    assert plaintext_files(jobs) == []  # models, report and dataset drafts are sealed when the job ends
    job_files = list(jobs.rglob("raw.parquet"))
    assert job_files and is_encrypted(job_files[0])
    assert len(vault.read("demo-bank", job_files[0], order="loan-default-demo")) > 1000
    with pytest.raises(TamperedError):  # the order's key, not the tenant's, opens its job files
        vault.read("demo-bank", job_files[0])
    blob = bytearray(job_files[0].read_bytes())
    blob[len(blob) // 2] ^= 0x01
    job_files[0].write_bytes(bytes(blob))
    with pytest.raises(TamperedError, match="was modified"):
        vault.read("demo-bank", job_files[0], order="loan-default-demo")


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 64, 1000])
def test_a_stream_encrypted_piece_by_piece_reads_like_an_encrypted_file(tmp_path: Path, size: int) -> None:
    key, context, chunk = secrets.token_bytes(32), b"upload", 8
    data = secrets.token_bytes(size)
    stream = StreamEncryptor(key, context, chunk_size=chunk)
    pieces = [stream.update(data[i:i + 5]) for i in range(0, size, 5)]
    blob = b"".join(pieces) + stream.finish()
    assert decrypt_bytes(key, blob, context) == data
    assert len(blob) == len(encrypt_bytes(key, data, context, chunk_size=chunk))  # the same layout of chunks
    (tmp_path / "blob").write_bytes(blob)
    assert plaintext_size(tmp_path / "blob") == size
    if size > chunk:  # the final flag: dropping the last chunk is caught
        with pytest.raises(TamperedError):
            decrypt_bytes(key, blob[:-(len(blob) - len(b"".join(pieces)))], context)


def test_the_vault_streams_a_file_bound_to_its_final_place(home: Path, meta) -> None:
    vault = open_vault(meta, home)
    final = home / "tenants" / "t1" / "uploads" / "0123456789abcdef" / "a.csv"
    final.parent.mkdir(parents=True)
    stream = vault.encryptor("t1", final)
    final.write_bytes(stream.update(b"a,b\n") + stream.update(b"1,2\n") + stream.finish())
    assert vault.read("t1", final) == b"a,b\n1,2\n"
    moved = final.with_name("b.csv")
    final.rename(moved)
    with pytest.raises(TamperedError):
        vault.read("t1", moved)
