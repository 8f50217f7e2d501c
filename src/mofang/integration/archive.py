"""Signed archives: a folder packed as tar.gz with a checksum manifest signed by the factory's Ed25519 key,
and the check that names the first file that does not match."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import tarfile
import time
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from mofang.core.errors import MofangError
from mofang.security.signing import FactoryKey, load_public_key, public_key_id, verify_signature

MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig"
MANIFEST_FORMAT = "mofang.signed-manifest/1"
MAX_UNPACKED_BYTES = 2**30  # an archive that inflates past this is refused (a gzip bomb)


class ArchiveRefused(MofangError):
    """The archive is damaged, tampered with or not signed by the expected key; the message names where."""


def pack_signed(folder: Path, archive: Path, key: FactoryKey, about: dict[str, Any]) -> dict[str, Any]:
    """Write every file of `folder` plus MANIFEST.json (path, size, SHA-256 of each, and `about`) and its
    Ed25519 signature MANIFEST.sig into the tar.gz `archive`; returns the manifest."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in (MANIFEST, SIGNATURE))
    entries = [{"path": p.relative_to(folder).as_posix(), "bytes": p.stat().st_size,
                "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in files]
    manifest = {"format": MANIFEST_FORMAT, **about, "factory_key_id": key.key_id,
                "signed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": entries}
    body = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
    signature = base64.b64encode(key.sign(body)) + b"\n"
    archive.parent.mkdir(parents=True, exist_ok=True)
    tmp = archive.with_name(f".{archive.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        _add(tar, MANIFEST, body)
        _add(tar, SIGNATURE, signature)
        for path, entry in zip(files, entries, strict=True):
            _add(tar, entry["path"], path.read_bytes())
    tmp.replace(archive)
    return manifest


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
    tar.addfile(info, io.BytesIO(data))


def read_members(archive: Path) -> dict[str, bytes]:
    """The regular files of a tar.gz by name; refuses links, devices, absolute or escaping paths."""
    members: dict[str, bytes] = {}
    try:  # the whole stream first: gzip's CRC catches a flipped byte that tar would read as an early end
        raw = _gunzip(Path(archive).read_bytes())
    except (OSError, EOFError, zlib.error) as exc:
        raise ArchiveRefused(f"{archive}: the archive is damaged ({exc})") from None
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar:
                path = PurePosixPath(member.name)
                if path.is_absolute() or ".." in path.parts or "\\" in member.name:
                    raise ArchiveRefused(f"{member.name}: a path outside the archive folder")
                if not member.isfile():
                    raise ArchiveRefused(f"{member.name}: not a regular file (links and devices are refused)")
                if member.name in members:
                    raise ArchiveRefused(f"{member.name}: appears twice in the archive")
                handle = tar.extractfile(member)
                members[member.name] = handle.read() if handle else b""
    except ArchiveRefused:
        raise
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveRefused(f"{archive}: the archive is damaged ({exc})") from None
    return members


def _gunzip(data: bytes) -> bytes:
    """The whole gzip stream inflated, its CRC checked; refused past MAX_UNPACKED_BYTES."""
    inflater = zlib.decompressobj(wbits=31)
    raw = inflater.decompress(data, MAX_UNPACKED_BYTES)
    if inflater.unconsumed_tail:
        raise ArchiveRefused(f"the archive inflates past {MAX_UNPACKED_BYTES >> 20} MiB")
    if not inflater.eof:
        raise EOFError("the gzip stream ends early")
    return raw


def verify_archive(archive: Path, public_pem: str) -> dict[str, Any]:
    """Check the signature of the manifest with `public_pem`, then every file's size and SHA-256, and that
    no file is unlisted; returns the manifest, or raises ArchiveRefused naming the first bad file."""
    members = read_members(Path(archive))
    for name in (MANIFEST, SIGNATURE):
        if name not in members:
            raise ArchiveRefused(f"{name}: missing from the archive (not a signed Mofang archive)")
    key = load_public_key(public_pem)
    if key is None:
        raise ArchiveRefused("the public key to verify with is not an Ed25519 PEM public key")
    try:
        signature = base64.b64decode(members[SIGNATURE].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ArchiveRefused(f"{SIGNATURE}: not a base64 signature") from None
    if not verify_signature(public_pem, members[MANIFEST], signature):
        raise ArchiveRefused(f"{MANIFEST}: the signature does not match the factory key "
                             f"{public_key_id(key)} (manifest forged or altered, or signed by another key)")
    try:
        manifest = json.loads(members[MANIFEST].decode("utf-8"))
        entries = list(manifest["files"])
    except (ValueError, KeyError, TypeError):
        raise ArchiveRefused(f"{MANIFEST}: signed but unreadable") from None
    listed = set()
    for entry in entries:
        name = entry["path"]
        listed.add(name)
        if name not in members:
            raise ArchiveRefused(f"{name}: listed in the manifest but missing from the archive")
        data = members[name]
        if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ArchiveRefused(f"{name}: checksum mismatch (the file was altered or replaced)")
    extra = sorted(set(members) - listed - {MANIFEST, SIGNATURE})
    if extra:
        raise ArchiveRefused(f"{extra[0]}: not listed in the signed manifest (a file was added)")
    return manifest


def unpack_verified(archive: Path, public_pem: str, target: Path) -> dict[str, Any]:
    """Verify, then write the archive's files under `target`; returns the manifest."""
    manifest = verify_archive(archive, public_pem)
    for name, data in read_members(archive).items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return manifest
