"""Sealing a job's scratch folder: the plaintext files a job writes while it runs (candidate models, report
drafts, dataset and bundle drafts) are encrypted in place with the order's key when the job stops, and
decrypted again only to resume it.

Station artifacts (`StationContext.save`) are encrypted from the start; the scratch files exist because
libraries (joblib, matplotlib, parquet writers, shutil) write plain files. The manifest `.sealed.json`
lists the files sealed here, so unsealing never touches an artifact that was encrypted from the start.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mofang.security.crypto import is_encrypted
from mofang.security.vault import Vault

MANIFEST = ".sealed.json"


def seal_job_folder(vault: Vault, tenant: str, order: str, folder: Path) -> int:
    """Encrypt every plaintext file under folder in place with the order's key; return how many."""
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    sealed = set(_manifest(folder))
    for stale in folder.rglob(".sealing-*"):  # a half-written temp of a run killed while (un)sealing
        stale.unlink(missing_ok=True)
    count = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        relative = path.relative_to(folder).as_posix()
        if path.name == MANIFEST or path.name.startswith(".sealing-") or is_encrypted(path):
            continue
        temporary = path.with_name(f".sealing-{path.name}")
        vault.seal(tenant, path, temporary, path, order=order)
        sealed.add(relative)
        _write_manifest(folder, sealed)  # before the swap: a crash leaves a listed file, plain or sealed
        os.replace(temporary, path)
        count += 1
    return count


def unseal_job_folder(vault: Vault, tenant: str, order: str, folder: Path) -> int:
    """Decrypt the files seal_job_folder sealed (to resume the job); return how many."""
    folder = Path(folder)
    listed = _manifest(folder)
    count = 0
    for relative in listed:
        path = folder / relative
        if not path.is_file() or not is_encrypted(path):
            continue
        data = vault.read(tenant, path, order=order)
        temporary = path.with_name(f".sealing-{path.name}")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        count += 1
    (folder / MANIFEST).unlink(missing_ok=True)
    return count


def plaintext_files(folder: Path) -> list[Path]:
    """Files under folder that are not encrypted (the manifest aside): what a sealed folder must not hold."""
    return [p for p in Path(folder).rglob("*")
            if p.is_file() and p.name != MANIFEST and not is_encrypted(p)]


def _manifest(folder: Path) -> list[str]:
    path = folder / MANIFEST
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("sealed", []))


def _write_manifest(folder: Path, sealed: set[str]) -> None:
    temporary = folder / f"{MANIFEST}.tmp"
    temporary.write_text(json.dumps({"sealed": sorted(sealed)}, indent=0), encoding="utf-8")
    os.replace(temporary, folder / MANIFEST)
