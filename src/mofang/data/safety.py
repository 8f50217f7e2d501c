"""Archive limits checked before anything is decompressed: zip bombs, member counts, unsafe member names."""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from mofang.core.errors import DataError

MAX_MEMBERS = 100_000
MAX_TOTAL_BYTES = 1 << 30  # uncompressed bytes read from one archive (everything stays in memory)
MAX_RATIO = 100  # uncompressed / compressed; real text and xlsx stay far below (a padded sheet: ~10)
RATIO_FLOOR_BYTES = 8 << 20  # small members may compress better than MAX_RATIO without harm


def open_zip(data: bytes | Path, label: str, what: str = "zip archive") -> zipfile.ZipFile:
    """A zip archive (`what` names it in errors: an xlsx file...) whose declared sizes, ratios and member
    names are within the limits."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError(f"not a readable {what} ({exc})", source=label) from None
    try:
        check_zip(archive, label)
    except DataError:
        archive.close()
        raise
    return archive


def check_zip(archive: zipfile.ZipFile, label: str) -> None:
    """Refuse a zip bomb from its directory alone: member count, total size and per-member ratio."""
    members = archive.infolist()
    check_count(len(members), label)
    total = 0
    for info in members:
        safe_member_name(info.filename, label)
        total += info.file_size
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise DataError(f"member '{info.filename}' expands {info.file_size / max(1, info.compress_size):,.0f}"
                            f" times ({info.compress_size:,} → {info.file_size:,} bytes): refused as a "
                            "possible zip bomb", source=label)
        check_total(total, label)


def read_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    """One member's bytes, never more than its declared size (a lying header cannot inflate it)."""
    try:
        with archive.open(info) as member:
            data = member.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise DataError(f"member '{info.filename}' is unreadable ({exc})", source=label) from None
    if len(data) > info.file_size:
        raise DataError(f"member '{info.filename}' is larger than its header says", source=label)
    return data


def iter_tar(path: Path, label: str) -> Iterator[tuple[str, bytes | None]]:
    """(member name, bytes) of a tar or tar.gz read as a stream in memory; bytes None for non-files.
    Each member's size is checked from its header before its data is decompressed."""
    try:
        with open(path, "rb") as fh, tarfile.open(fileobj=fh, mode="r|*") as archive:
            count = total = 0
            for info in archive:
                count += 1
                check_count(count, label)
                name = safe_member_name(info.name, label)
                if not info.isfile():
                    yield name, None
                    continue
                total += info.size
                check_total(total, label)
                member = archive.extractfile(info)
                yield name, member.read() if member is not None else None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"not a readable tar archive ({type(exc).__name__}: {exc})", source=label) from None


def safe_member_name(name: str, label: str) -> str:
    """The member's name, refused when absolute or climbing out with '..'."""
    posix = name.replace("\\", "/")
    parts = PurePosixPath(posix).parts
    if posix.startswith("/") or (parts and parts[0].endswith(":")) or ".." in parts:
        raise DataError(f"unsafe member name '{name}' (absolute or with '..'): refused", source=label)
    return posix.removeprefix("./")


def check_count(count: int, label: str) -> None:
    """Refuse more than MAX_MEMBERS files."""
    if count > MAX_MEMBERS:
        raise DataError(f"more than {MAX_MEMBERS:,} members: refused", source=label)


def check_total(total: int, label: str) -> None:
    """Refuse more than MAX_TOTAL_BYTES read in all."""
    if total > MAX_TOTAL_BYTES:
        raise DataError(f"more than {MAX_TOTAL_BYTES:,} bytes uncompressed: refused", source=label)
