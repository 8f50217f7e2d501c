"""Data files uploaded for orders: encrypted with a key of their own (`upload:<id>`, wrapped by the tenant's key)
as they stream in (never written in clear), under the tenant's area with a size limit; decrypted only in memory to
be profiled or checked, and into a job's sealed scratch folder for the line to read. Destroying the last live order
placed with an upload deletes it and shreds its key, so a copy of it taken earlier no longer opens."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mofang.core.errors import DataError, MofangError, NotFoundError
from mofang.data.inspect import inspect_target
from mofang.data.limits import check_lines, limits
from mofang.security.crypto import TamperedError, is_encrypted, plaintext_size
from mofang.security.scope import safe_child
from mofang.security.vault import Vault

SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xls", ".parquet", ".json", ".jsonl", ".zip", ".tar.gz", ".tgz",
            ".tar")
LINE_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl")  # read line by line: a profile may read only their head
PROFILE_HEAD_BYTES = 4 << 20  # a line-based file is profiled on its first 4 MiB (whole lines)
PROFILE_MAX_BYTES = 32 << 20  # a file read whole (JSON, Excel, Parquet, archives) is profiled up to 32 MiB
_NAME = re.compile(r"^[\w\u4e00-\u9fff][\w\u4e00-\u9fff .()+-]{0,119}$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{16}$")
_PART = ".part"


class UploadError(MofangError):
    """An upload that cannot be accepted or read (name, type, empty or malformed body): a 422."""


class UploadTooLarge(MofangError):
    """An upload over the portal's size limit, or too large to profile: a 413."""


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


async def receive(chunks: AsyncIterator[bytes], *, vault: Vault, home: Path, tenant: str, name: str, limit: int,
                  declared: int | None = None) -> dict[str, Any]:
    """Stream an upload's body, encrypted with the upload's own key as it arrives, to
    <uploads>/<upload id>/<name> (mode 0600), refusing it past `limit` bytes (at once when the declared length
    says so); returns its description."""
    name = clean_name(name)
    if declared is not None and declared > limit:
        raise UploadTooLarge(f"upload of {declared:,} bytes is over the limit of {limit:,} bytes")
    folder = safe_child(upload_root(home, tenant), secrets.token_hex(8))
    folder.mkdir(parents=True, mode=0o700)
    final, part = folder / name, folder / (name + _PART)
    encryptor, size = vault.encryptor(tenant, final), 0
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise UploadTooLarge(f"upload is over the limit of {limit:,} bytes")
                out.write(encryptor.update(chunk))
            out.write(encryptor.finish())
        if size == 0:
            raise UploadError(f"file {name!r} is empty")
        part.rename(final)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return describe(final)


def describe(path: Path) -> dict[str, Any]:
    """An upload as the API shows it: id, name, size (of its content), when, and the path an order names it by."""
    stat = path.stat()
    size = plaintext_size(path) if is_encrypted(path) else stat.st_size
    return {"upload_id": path.parent.name, "name": path.name, "size_bytes": size,
            "uploaded_at": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
            "order_path": f"{path.parent.name}/{path.name}"}


def uploads(home: Path, tenant: str) -> list[dict[str, Any]]:
    """The tenant's uploads, newest first."""
    root = upload_root(home, tenant)
    if not root.is_dir():
        return []
    found = [f for d in root.iterdir() if d.is_dir() and _UPLOAD_ID.match(d.name) for f in _stored(d)]
    return sorted((describe(f) for f in found), key=lambda u: u["uploaded_at"], reverse=True)


def find(home: Path, tenant: str, upload_id: str) -> Path:
    """The file of one of the tenant's uploads; NotFoundError for an unknown (or another tenant's) id."""
    if not _UPLOAD_ID.match(upload_id or ""):
        raise NotFoundError(f"no upload '{upload_id}'")
    folder = upload_root(home, tenant) / upload_id
    files = _stored(folder) if folder.is_dir() else []
    if not files:
        raise NotFoundError(f"no upload '{upload_id}'")
    return files[0]


def _stored(folder: Path) -> list[Path]:
    """The complete upload in an upload folder (not a part still arriving, nor a temporary file)."""
    return [f for f in folder.iterdir() if f.is_file() and not f.name.endswith(_PART) and not f.name.startswith(".")]


def read(vault: Vault, tenant: str, path: Path) -> bytes:
    """An upload's content, decrypted in memory. One stored by an earlier release — in clear, or encrypted with the
    tenant's key — is encrypted in place with a key of its own the first time it is read."""
    if is_encrypted(path):
        try:
            content = vault.read(tenant, path)
        except TamperedError:  # said without the server's path
            raise UploadError(f"upload {path.parent.name}/{path.name} does not open with its key: it was "
                              "modified, moved from elsewhere, or its key was destroyed") from None
        if vault.has_own_key(tenant, path):
            return content
    else:
        content = path.read_bytes()
    encryptor = vault.encryptor(tenant, path)  # bound to its place, under the upload's own key (made now)
    sealed = path.with_name(path.name + _PART)  # never listed; replaces the old file only once complete
    fd = os.open(sealed, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(encryptor.update(content) + encryptor.finish())
    os.replace(sealed, path)
    return content


@contextmanager
def in_memory(items: Sequence[tuple[Path, bytes]]) -> Iterator[list[Path]]:
    """Each (upload, content) shown to the data workshop's readers as a path ending `<upload id>/<name>` whose
    bytes live in memory only (a Linux memfd; the path is a link to it, holding no data), gone when the block
    ends. Where memfd is missing the content goes to a private temporary file, deleted at the end."""
    folder = Path(tempfile.mkdtemp(prefix="mofang-upload-"))  # mode 0700
    descriptors: list[int] = []
    try:
        views = []
        for upload, content in items:
            view = folder / upload.parent.name / upload.name
            view.parent.mkdir(mode=0o700, exist_ok=True)
            if hasattr(os, "memfd_create"):
                descriptors.append(_memory_file(content))
                view.symlink_to(f"/proc/{os.getpid()}/fd/{descriptors[-1]}")
            else:
                view.write_bytes(content)
            views.append(view)
        yield views
    finally:
        for fd in descriptors:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)


def _memory_file(content: bytes) -> int:
    fd = os.memfd_create("mofang-upload", os.MFD_CLOEXEC)
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view):]
    return fd


def stage(content: bytes, upload: Path, folder: Path) -> Path:
    """Write an upload's decrypted content into `folder` (a job's scratch folder, which the line seals) as
    `<folder>/uploads/<upload id>/<name>`, mode 0600; returns that path."""
    target = folder / "uploads" / upload.parent.name / upload.name
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    return target


def profile(vault: Vault, tenant: str, path: Path) -> dict[str, Any]:
    """What `mofang data inspect` shows, read from memory within the read limits: format, encoding, per column
    kind/missing/distinct/samples, and the personal data found (samples of PII columns come masked). A
    line-based file is profiled on its head (`sampled` says how much); a malformed one is an UploadError."""
    content = read(vault, tenant, path)
    try:
        sample = _within_limits(path, content)
    except DataError as exc:
        raise UploadError(str(exc)) from None
    with in_memory([(path, sample)]) as (view,):
        try:
            report = inspect_target(str(view))
        except DataError as exc:
            raise UploadError(str(relabel(exc, [view], [path]))) from None
        except MofangError:
            raise
        except Exception as exc:  # noqa: BLE001 — a reader failing on a malformed file (recursion, memory...)
            raise UploadError(f"{path.name}: cannot be read as a data file ({type(exc).__name__})") from None
    report["target"] = path.name  # never the server's path
    if len(sample) < len(content):
        report["sampled"] = {"bytes": len(sample), "of_bytes": len(content),
                             "note": f"profiled on the first {len(sample):,} bytes (whole lines)"}
    return report


def _within_limits(upload: Path, content: bytes) -> bytes:
    """The part of an upload a profile reads: a line-based file's head (whole lines, each within the data
    workshop's line limit), the whole of any other; UploadTooLarge past the size a profile reads whole."""
    name = upload.name
    if not name.lower().endswith(LINE_SUFFIXES):
        if len(content) > PROFILE_MAX_BYTES:
            raise UploadTooLarge(f"{name}: {len(content):,} bytes is too large to profile here (at most "
                                 f"{PROFILE_MAX_BYTES:,} for this format); an order still reads it whole")
        return content
    check_lines(content, f"{upload.parent.name}/{name}", limits())  # what an order reading it would refuse
    if len(content) <= PROFILE_HEAD_BYTES:
        return content
    return content[:content.rfind(b"\n", 0, PROFILE_HEAD_BYTES) + 1]


def relabel(exc: DataError, views: Sequence[Path], placed: Sequence[Path]) -> DataError:
    """The error with each in-memory view's path shown as its upload's `<upload id>/<name>`."""
    source = str(exc.source or "")
    for view, upload in zip(views, placed, strict=True):
        source = source.replace(str(view), f"{upload.parent.name}/{upload.name}")
    return DataError(exc.reason, source=source or None, row=exc.row, column=exc.column)
