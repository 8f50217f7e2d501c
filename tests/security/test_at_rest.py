"""Encryption at rest: after a full order with personal data, no raw PII value is anywhere under
MOFANG_HOME, and a changed byte in an encrypted job artifact is caught."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.demo import write_demo
from mofang.security.crypto import TamperedError, is_encrypted
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
