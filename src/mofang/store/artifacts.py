"""ArtifactStore: content-addressed files and folders, one tree per tenant, one folder per order.

What the line publishes for an order (dataset versions, bundles, marketplace copies) is stored under
`tenants/<tenant>/artifacts/<kind>/orders/<order>/<xx>/<digest>` and encrypted with that order's key, so
content is shared within an order (a resumed or repeated job publishes the same folder) but never between two:
destroying one order shreds the only key that opens its files. Earlier releases stored them per tenant, at
`tenants/<tenant>/artifacts/<kind>/<xx>/<digest>` under the tenant's key; those are still found and read."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from mofang.core.config import settings


class Sealer(Protocol):
    """Encrypts a file for a tenant (the security center's Vault), bound to the place it will be renamed to."""

    def seal(self, tenant: str, source: Path, destination: Path, final: Path, *, order: str | None = None) -> None: ...

_CHUNK = 1 << 20
ORDER_SCOPE = "orders"  # the folder of each order's artifacts inside a kind (the vault reads its key from it)


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(root: Path) -> str:
    """sha256 over the sorted (relative path, file digest) pairs of a folder."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(file_digest(path).encode())
        h.update(b"\n")
    return h.hexdigest()


class ArtifactStore:
    """Stores immutable artifacts under <home>/tenants/<tenant>/artifacts/<kind>/<digest>."""

    def __init__(self, home: Path | None = None) -> None:
        self.home = Path(home) if home is not None else settings().home

    def tenant_dir(self, tenant: str) -> Path:
        return self.home / "tenants" / tenant

    def job_dir(self, tenant: str, job_id: int) -> Path:
        """The scratch folder of one job (process outputs live here until published)."""
        path = self.tenant_dir(tenant) / "jobs" / str(job_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def artifact_dir(self, tenant: str, kind: str, digest: str, order: str | None = None) -> Path:
        """Where an artifact of `kind` with this digest is stored: in the order's folder when `order` is given,
        else at the tenant-wide place earlier releases used."""
        base = self.tenant_dir(tenant) / "artifacts" / kind
        if order is not None:
            base = base / ORDER_SCOPE / order
        return base / digest[:2] / digest

    def find_dir(self, tenant: str, kind: str, digest: str, order: str | None) -> Path:
        """The stored folder of an artifact of `order`: its own folder, else where an earlier release put it
        (the order's folder when neither exists)."""
        own = self.artifact_dir(tenant, kind, digest, order)
        if order is None or own.exists():
            return own
        legacy = self.artifact_dir(tenant, kind, digest)
        return legacy if legacy.exists() else own

    def order_dirs(self, tenant: str, order: str) -> list[Path]:
        """The order's artifact folders, one per kind that holds any."""
        root = self.tenant_dir(tenant) / "artifacts"
        if not root.is_dir():
            return []
        return sorted(p for kind in root.iterdir() if (p := kind / ORDER_SCOPE / order).is_dir())

    def put_dir(self, tenant: str, kind: str, source: Path, vault: Sealer | None = None, *,
                order: str | None = None) -> tuple[str, Path]:
        """Copy a finished folder into the store (each file encrypted when a vault is given: with the order's
        key when `order` is given, the store placing it in that order's folder); returns (digest of the
        plaintext tree, stored path). Idempotent."""
        digest = tree_digest(source)
        target = self.artifact_dir(tenant, kind, digest, order)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
            if vault is None:
                shutil.copytree(source, staging, dirs_exist_ok=True)
            else:  # bound to the file's final place, so it opens there and nowhere else
                for path in sorted(p for p in source.rglob("*") if p.is_file()):
                    relative = path.relative_to(source)
                    (staging / relative).parent.mkdir(parents=True, exist_ok=True)
                    vault.seal(tenant, path, staging / relative, target / relative, order=order)
            try:
                os.replace(staging, target)  # atomic: a reader never sees a half-copied artifact
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)
        return digest, target

    def put_file(self, tenant: str, kind: str, source: Path) -> tuple[str, Path]:
        """Copy one file into the store, keeping its name; returns (digest, stored path)."""
        digest = file_digest(source)
        target = self.tenant_dir(tenant) / "artifacts" / kind / digest[:2] / digest / source.name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        return digest, target
