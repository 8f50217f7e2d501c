"""Document sources: a folder or a .zip/.tar.gz of documents read in memory as one text record per file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.doctext import DOCUMENT_FORMATS, extract, first_line
from mofang.data.limits import limits, over
from mofang.data.ocr import UnreadableImage
from mofang.data.ocr_card import OcrTally
from mofang.data.safety import check_count, check_total, iter_tar, open_zip, read_zip_member, safe_member_name

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
SKIPPED_LISTED = 50  # names of skipped files kept in the read info
_SYSTEM = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")


def is_document_source(path: Path) -> bool:
    """A folder, or an archive that holds documents."""
    return path.is_dir() or path.name.lower().endswith(ARCHIVE_SUFFIXES)


def read_documents(path: Path, *, on_read: Callable[[float], None] | None = None) -> tuple[pd.DataFrame, dict]:
    """One record per document, sorted by path: path, title, text, format, and label (the parent folder's
    name) when documents sit in sub-folders. Unknown file types are skipped and listed in the read info; images
    and PDF pages without a text layer are read by OCR (its pages and confidence in the read info, `ocr`), and
    images that cannot be read are listed there and skipped. `on_read` hears the share of the files read."""
    label = str(path)
    limit = limits(label)
    tally = OcrTally()
    records, skipped = [], []
    members = sorted(_members(path, label), key=lambda member: member[0])
    for index, (name, data) in enumerate(members):
        if on_read is not None:
            on_read(index / len(members))
        fmt = DOCUMENT_FORMATS.get(PurePosixPath(name).suffix.lower())
        if fmt is None or _is_system_file(name):
            skipped.append(name)
            continue
        where = f"{label} [{name}]"
        try:
            document = extract(_read(data), fmt, source=where, limit=limit, ocr_pages=limit.ocr_pages - tally.pages)
        except UnreadableImage as exc:
            tally.unreadable_file(name, exc.reason)
            continue
        tally.add(name, document)
        if tally.pages > limit.ocr_pages:
            raise DataError(over(limit, "ocr_pages", f"more than {limit.ocr_pages:,} pages to read by OCR"),
                            source=label)
        text = document.text.strip()
        title = document.title or first_line(text) or PurePosixPath(name).stem
        records.append({"path": name, "title": title, "text": text or None, "format": fmt})
    if not records:
        kinds = ", ".join(sorted(DOCUMENT_FORMATS))
        unreadable = f"{tally.unreadable_count} unreadable ({tally.unreadable_names()}), " if tally.unreadable else ""
        raise DataError(f"no documents ({kinds}) found; {unreadable}{len(skipped)} other files", source=label)
    frame = pd.DataFrame(records, dtype=object)
    labels = _folder_labels(frame["path"].tolist())
    if labels is not None:
        frame["label"] = labels
    info = {"format": "documents", "documents": len(frame), "skipped": skipped[:SKIPPED_LISTED],
            "skipped_count": len(skipped)}
    if tally.documents or tally.unreadable:
        info["ocr"] = tally.summary()
        info["warnings"] = tally.warnings()
    return frame, info


def _members(path: Path, label: str) -> Iterator[tuple[str, bytes | Path]]:
    """(relative name, bytes or file path) of every regular file of the folder or archive."""
    lower = path.name.lower()
    if path.is_dir():  # the same limits as an archive: everything read stays in memory
        count = total = 0
        for file in path.rglob("*"):
            if file.is_file() and not file.is_symlink():
                count += 1
                check_count(count, label)
                if file.suffix.lower() in DOCUMENT_FORMATS:
                    total += file.stat().st_size
                    check_total(total, label)
                yield file.relative_to(path).as_posix(), file
    elif lower.endswith(".zip"):
        with open_zip(path, label) as archive:
            for info in archive.infolist():
                if not info.is_dir():
                    yield safe_member_name(info.filename, label), read_zip_member(archive, info, label)
    else:
        for name, data in iter_tar(path, label):
            if data is not None:
                yield name, data


def _read(data: bytes | Path) -> bytes:
    return data.read_bytes() if isinstance(data, Path) else data


def _is_system_file(name: str) -> bool:
    base = PurePosixPath(name).name
    return name.startswith(_SYSTEM) or base.startswith("._") or base in _SYSTEM


def _folder_labels(paths: list[str]) -> list[str | None] | None:
    """The parent folder's name under the folder all documents share; None when none sits in a sub-folder."""
    parents = [PurePosixPath(p).parent for p in paths]
    common = parents[0]
    for parent in parents[1:]:
        while common != PurePosixPath(".") and common not in (parent, *parent.parents):
            common = common.parent
    labels = [parent.name if parent != common else None for parent in parents]
    return labels if any(labels) else None
