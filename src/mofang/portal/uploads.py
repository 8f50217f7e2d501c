"""Data files uploaded for orders: streamed to disk under the tenant's area with a size limit, then profiled."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mofang.core.errors import MofangError, NotFoundError
from mofang.data.inspect import inspect_target
from mofang.security.scope import safe_child

SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".parquet", ".json", ".jsonl", ".zip", ".tar.gz", ".tgz",
            ".tar")
_NAME = re.compile(r"^[\w\u4e00-\u9fff][\w\u4e00-\u9fff .()+-]{0,119}$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{16}$")
_PART = ".part"


class UploadError(MofangError):
    """An upload that cannot be accepted (name, type or empty body): a 422."""


class UploadTooLarge(MofangError):
    """An upload over the portal's size limit: a 413."""


def upload_root(home: Path, tenant: str) -> Path:
    """<home>/tenants/<tenant>/uploads, derived under the tenants folder (never from input alone)."""
    return safe_child(home / "tenants", tenant, "uploads")


def clean_name(name: str) -> str:
    """The file name to store an upload under: a plain name with a data suffix, or UploadError."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not _NAME.match(base) or ".." in base:
        raise UploadError(f"file name {name!r} is not allowed: use letters, digits, spaces, '.', '-', '_' "
                          "(at most 120 characters)")
    if not base.lower().endswith(SUFFIXES):
        raise UploadError(f"file {base!r}: not a data file the line reads (expected one of: {', '.join(SUFFIXES)})")
    return base


async def receive(chunks: AsyncIterator[bytes], *, home: Path, tenant: str, name: str, limit: int,
                  declared: int | None = None) -> dict[str, Any]:
    """Stream an upload's body to <uploads>/<upload id>/<name> (mode 0600), refusing it past `limit` bytes
    (at once when the declared length says so); returns its description."""
    name = clean_name(name)
    if declared is not None and declared > limit:
        raise UploadTooLarge(f"upload of {declared:,} bytes is over the limit of {limit:,} bytes")
    folder = safe_child(upload_root(home, tenant), secrets.token_hex(8))
    folder.mkdir(parents=True, mode=0o700)
    part = folder / (name + _PART)
    digest, size = hashlib.sha256(), 0
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(f"upload is over the limit of {limit:,} bytes")
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise UploadError(f"file {name!r} is empty")
        part.rename(folder / name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return describe(folder / name)


def describe(path: Path) -> dict[str, Any]:
    """An upload as the API shows it: id, name, size, when, and the path an order names it by."""
    stat = path.stat()
    return {"upload_id": path.parent.name, "name": path.name, "size_bytes": stat.st_size,
            "uploaded_at": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
            "order_path": f"{path.parent.name}/{path.name}"}


def uploads(home: Path, tenant: str) -> list[dict[str, Any]]:
    """The tenant's uploads, newest first."""
    root = upload_root(home, tenant)
    if not root.is_dir():
        return []
    found = [f for d in root.iterdir() if d.is_dir() and _UPLOAD_ID.match(d.name)
             for f in d.iterdir() if f.is_file() and not f.name.endswith(_PART)]
    return sorted((describe(f) for f in found), key=lambda u: u["uploaded_at"], reverse=True)


def find(home: Path, tenant: str, upload_id: str) -> Path:
    """The file of one of the tenant's uploads; NotFoundError for an unknown (or another tenant's) id."""
    if not _UPLOAD_ID.match(upload_id or ""):
        raise NotFoundError(f"no upload '{upload_id}'")
    folder = upload_root(home, tenant) / upload_id
    files = [f for f in folder.iterdir() if f.is_file() and not f.name.endswith(_PART)] if folder.is_dir() else []
    if not files:
        raise NotFoundError(f"no upload '{upload_id}'")
    return files[0]


def profile(path: Path) -> dict[str, Any]:
    """What `mofang data inspect` shows: format, encoding, per column kind/missing/distinct/samples, and the
    personal data found (samples of PII columns come masked)."""
    report = inspect_target(str(path))
    report["target"] = path.name  # never the server's path
    return report
