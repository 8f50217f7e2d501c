"""Image sources in, labelled images out: a folder whose sub-folders are the classes, a .zip/.tar.gz/.tar of such
folders, or a CSV/Excel list of `path,label` rows (optional `mask` column). A mask may also lie beside its image
(`x.png` or `x_mask.png` beside `x.jpg`). Files that cannot be used are listed with the reason and skipped;
exact and near-duplicate images are removed before any split (`deduplicate`), so none leaks between train and
test; `split` is a seeded stratified split of what remains."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from mofang.core.errors import DataError
from mofang.data.safety import check_count, check_total, iter_tar, open_zip, read_zip_member, safe_member_name
from mofang.tasks.vision.images import (
    IMAGE_SUFFIXES,
    MAX_PIXELS,
    MAX_SIDE,
    ImageProblem,
    content_hash,
    decode_image,
    decode_mask,
    dhash,
    hamming,
    phash,
)

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
MASK_SUFFIXES = ("_mask", ".mask", "-mask")  # x_mask.png beside x.jpg (x.png beside x.jpg is one too)
_SYSTEM = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")
NEAR_PHASH_BITS = 4  # near duplicates: pHash and dHash both within these Hamming distances (of 64 bits)
NEAR_DHASH_BITS = 6


@dataclass
class ImageRecord:
    """One usable image: its name in the source, label, pixels (uint8 H×W or H×W×3) and optional defect mask."""

    name: str
    label: str | None
    pixels: np.ndarray
    width: int  # in the file
    height: int
    mode: str
    format: str
    mask: np.ndarray | None = None  # bool, the pixels' H×W
    notes: tuple[str, ...] = ()
    sha256: str = ""
    dhash: int = 0
    phash: int = 0
    group: str = ""  # near duplicates kept together (`deduplicate(policy="group")`) share it: the first's name


@dataclass
class ImageSet:
    """What a source gave: usable images, files skipped (with the reason), duplicates removed, masks found."""

    source: str
    records: list[ImageRecord]
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"name", "reason", "kind"}
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # {"removed", "kept", "kind", "distance"}
    mask_problems: list[dict[str, str]] = field(default_factory=list)  # masks ignored: {"name", "reason"}

    @property
    def labels(self) -> list[str]:
        return [str(r.label) for r in self.records]

    @property
    def classes(self) -> list[str]:
        return sorted({str(r.label) for r in self.records if r.label is not None})

    @property
    def images(self) -> list[np.ndarray]:
        return [r.pixels for r in self.records]

    @property
    def masks(self) -> list[np.ndarray | None]:
        return [r.mask for r in self.records]

    @property
    def channels(self) -> int:
        """3 when any image is in colour, else 1."""
        return 3 if any(r.pixels.ndim == 3 for r in self.records) else 1

    def subset(self, rows: Sequence[int]) -> ImageSet:
        """The same set restricted to `rows` (indexes into records); skipped and duplicates are kept."""
        return ImageSet(self.source, [self.records[i] for i in rows], self.skipped, self.duplicates,
                        self.mask_problems)


def is_image_source(path: Path) -> bool:
    """A folder, an archive, or a CSV/Excel list of image paths."""
    lower = path.name.lower()
    return path.is_dir() or lower.endswith(ARCHIVE_SUFFIXES) or lower.endswith(TABLE_SUFFIXES)


def read_images(path: Path | str, *, path_column: str = "path", label_column: str = "label",
                mask_column: str = "mask", max_pixels: int = MAX_PIXELS, max_side: int = MAX_SIDE,
                duplicates: str = "remove") -> ImageSet:
    """Read an image source: a class-folder tree (folder or archive) or a CSV/Excel list of image paths
    (relative to the list's folder) with labels and optional masks. Unusable files are skipped and listed;
    exact duplicates are removed and near ones handled by the `duplicates` policy (see `deduplicate`).
    Raises DataError when the source itself is unreadable or holds no usable labelled image."""
    path = Path(path)
    label = str(path)
    if not path.exists():
        raise DataError("file or folder not found", source=label)
    lower = path.name.lower()
    if path.is_dir() or lower.endswith(ARCHIVE_SUFFIXES):
        entries = list(_tree_entries(path, label))
    elif lower.endswith(TABLE_SUFFIXES):
        entries = _table_entries(path, path_column, label_column, mask_column)
    else:
        raise DataError("an image source is a folder of class folders, a .zip/.tar.gz/.tar of them, or a "
                        f"CSV/Excel list of image paths ({', '.join(TABLE_SUFFIXES)})", source=label)
    images = ImageSet(source=label, records=[])
    for entry in entries:
        _decode(entry, images, max_pixels, max_side)
    if not images.records:
        reasons = Counter(s["reason"].split(" (")[0] for s in images.skipped)
        found = "; ".join(f"{n}× {r}" for r, n in reasons.most_common(5)) or "no files"
        raise DataError(f"no usable labelled image found ({found})", source=label)
    deduplicate(images, policy=duplicates)
    return images


@dataclass
class _Entry:
    name: str
    label: str | None
    data: bytes | Path | None  # None: a listed file that is missing
    mask: bytes | Path | None = None
    mask_name: str | None = None
    missing_mask: str | None = None
    not_image: str | None = None  # why a file of the tree is no image


def _decode(entry: _Entry, images: ImageSet, max_pixels: int, max_side: int) -> None:
    if entry.not_image:
        images.skipped.append({"name": entry.name, "reason": entry.not_image, "kind": "not-an-image-type"})
        return
    if entry.label is None or not str(entry.label).strip():
        images.skipped.append({"name": entry.name, "reason": "no label (not inside a class folder, or an empty "
                                                             "label)", "kind": "no-label"})
        return
    if entry.data is None:
        images.skipped.append({"name": entry.name, "reason": "file not found", "kind": "missing"})
        return
    try:
        decoded = decode_image(_bytes(entry.data), max_pixels=max_pixels, max_side=max_side)
    except ImageProblem as exc:
        images.skipped.append({"name": entry.name, "reason": str(exc), "kind": exc.kind})
        return
    except OSError as exc:
        images.skipped.append({"name": entry.name, "reason": f"cannot read the file ({exc})", "kind": "unreadable"})
        return
    except Exception as exc:  # noqa: BLE001 - a decoder's own failure on a hostile file: listed, never raised
        images.skipped.append({"name": entry.name, "reason": f"unreadable image ({type(exc).__name__}: {exc})",
                               "kind": "unreadable"})
        return
    record = ImageRecord(name=entry.name, label=str(entry.label).strip(), pixels=decoded.pixels,
                         width=decoded.width, height=decoded.height, mode=decoded.mode, format=decoded.format,
                         notes=decoded.notes, sha256=content_hash(decoded.pixels), dhash=dhash(decoded.pixels),
                         phash=phash(decoded.pixels))
    if entry.missing_mask:
        images.mask_problems.append({"name": entry.name, "reason": entry.missing_mask})
    if entry.mask is not None:
        size = (decoded.pixels.shape[1], decoded.pixels.shape[0])
        try:
            record.mask = decode_mask(_bytes(entry.mask), size, (decoded.width, decoded.height))
        except Exception as exc:  # noqa: BLE001 - ImageProblem, OSError or a decoder's own failure
            images.mask_problems.append({"name": entry.mask_name or entry.name, "reason": f"mask ignored: {exc}"})
    images.records.append(record)


def _bytes(data: bytes | Path) -> bytes:
    return data.read_bytes() if isinstance(data, Path) else data


def _tree_entries(path: Path, label: str) -> Iterator[_Entry]:
    """Entries of a class-folder tree: the class is the first folder below the folder every image shares.
    Files of other types are listed as skipped (their name says what they are)."""
    files = {name: data for name, data in _members(path, label) if not _is_system_file(name)}
    images = sorted(n for n in files if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES)
    masks = _masks_beside(images)
    mask_names = set(masks.values())
    root = _common_folder([n for n in images if n not in mask_names])
    for name in sorted(files):
        if name in mask_names:
            continue
        suffix = PurePosixPath(name).suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            yield _Entry(name=name, label=None, data=None,
                         not_image=f"not an image file type ({suffix or 'no suffix'})")
            continue
        parts = PurePosixPath(name).relative_to(root).parts
        mask = masks.get(name)
        yield _Entry(name=name, label=parts[0] if len(parts) > 1 else None, data=files[name],
                     mask=files[mask] if mask else None, mask_name=mask)


def _masks_beside(images: list[str]) -> dict[str, str]:
    """image name → its mask's name: `x.png` beside a non-PNG `x.jpg`, or `x_mask.png` beside `x.<any>`."""
    by_stem: dict[tuple[str, str], list[str]] = {}
    for name in images:
        posix = PurePosixPath(name)
        by_stem.setdefault((str(posix.parent), posix.stem), []).append(name)
    found: dict[str, str] = {}
    for name in images:
        posix = PurePosixPath(name)
        if posix.suffix.lower() == ".png":
            continue
        same = [n for n in by_stem.get((str(posix.parent), posix.stem), []) if n != name
                and PurePosixPath(n).suffix.lower() == ".png"]
        tagged = [n for suffix in MASK_SUFFIXES for n in by_stem.get((str(posix.parent), posix.stem + suffix), [])
                  if PurePosixPath(n).suffix.lower() == ".png"]
        if same or tagged:
            found[name] = (same or tagged)[0]
    for name in images:  # x_mask.png beside x.png (a PNG image with a PNG mask)
        posix = PurePosixPath(name)
        if posix.suffix.lower() == ".png" and name not in found.values():
            for suffix in MASK_SUFFIXES:
                for n in by_stem.get((str(posix.parent), posix.stem + suffix), []):
                    found.setdefault(name, n)
    return found


def _common_folder(names: list[str]) -> PurePosixPath:
    parents = [PurePosixPath(n).parent for n in names]
    if not parents:
        return PurePosixPath(".")
    common = parents[0]
    for parent in parents[1:]:
        while common != PurePosixPath(".") and common not in (parent, *parent.parents):
            common = common.parent
    if all(p == common for p in parents) and common != PurePosixPath("."):
        return common.parent  # every image in one folder: that folder is their class
    return common


def _members(path: Path, label: str) -> Iterator[tuple[str, bytes | Path]]:
    """(relative name, bytes or file path) of every regular file of a folder or archive, within the archive
    limits of `mofang.data.safety` (members, total bytes, unsafe names, zip bombs)."""
    lower = path.name.lower()
    if path.is_dir():
        count = total = 0
        for file in sorted(path.rglob("*")):
            if file.is_file() and not file.is_symlink():
                count += 1
                check_count(count, label)
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


def _is_system_file(name: str) -> bool:
    base = PurePosixPath(name).name
    return name.startswith(_SYSTEM) or base.startswith("._") or base in _SYSTEM


def _table_entries(path: Path, path_column: str, label_column: str, mask_column: str) -> list[_Entry]:
    """Entries of a CSV/Excel list: image paths (relative to the list's folder), labels, optional masks."""
    from mofang.data.connectors import read_source
    from mofang.orders.schema import Source

    frame = read_source(Source(path=path))
    columns = {str(c).strip().lower(): c for c in frame.columns}
    for wanted in (path_column, label_column):
        if wanted.lower() not in columns:
            raise DataError(f"the list needs a '{wanted}' column; it has: {', '.join(map(str, frame.columns))}",
                            source=str(path))
    paths = frame[columns[path_column.lower()]]
    labels = frame[columns[label_column.lower()]]
    masks = frame[columns[mask_column.lower()]] if mask_column.lower() in columns else None
    entries: list[_Entry] = []
    for row, (image, label) in enumerate(zip(paths, labels, strict=True)):
        if image is None or not str(image).strip():
            entries.append(_Entry(name=f"row {row + 2}", label=label, data=None))
            continue
        file = _resolve(path.parent, str(image).strip())
        entry = _Entry(name=str(image).strip(), label=label, data=file if file.is_file() else None)
        mask = masks.iloc[row] if masks is not None else None
        if mask is not None and str(mask).strip():
            mask_file = _resolve(path.parent, str(mask).strip())
            if mask_file.is_file():
                entry.mask, entry.mask_name = mask_file, str(mask).strip()
            else:
                entry.missing_mask = f"mask file '{str(mask).strip()}' not found"
        elif isinstance(entry.data, Path):
            beside = _mask_file(entry.data)
            if beside is not None:
                entry.mask, entry.mask_name = beside, beside.name
        entries.append(entry)
    return entries


def _mask_file(image: Path) -> Path | None:
    """The mask file beside an image file, as `_masks_beside` finds it in a tree."""
    tagged = [image.with_name(image.stem + suffix + ".png") for suffix in MASK_SUFFIXES]
    candidates = tagged if image.suffix.lower() == ".png" else [image.with_suffix(".png"), *tagged]
    return next((c for c in candidates if c.is_file()), None)


def _resolve(base: Path, name: str) -> Path:
    file = Path(name)
    return file if file.is_absolute() else base / file


def deduplicate(images: ImageSet, *, policy: str = "remove", phash_bits: int = NEAR_PHASH_BITS,
                dhash_bits: int = NEAR_DHASH_BITS) -> ImageSet:
    """Find exact duplicates (the same decoded pixels) and near duplicates (pHash and dHash both within the
    given Hamming distances, aspect ratios within 10%: the same part shot again, re-encoded or re-lit), in place.

    Exact duplicates are always removed (the first by name is kept). Near duplicates, by `policy`: "remove"
    keeps the first of each group; "group" keeps them all under one `group` name so that `split` never puts
    two of them on different sides; "keep" leaves them as they are. A group whose labels disagree is removed
    whole (which label is right is unknown). Each removal is listed in `images.duplicates`."""
    if policy not in ("remove", "group", "keep"):
        raise ValueError(f"duplicate policy must be 'remove', 'group' or 'keep', not {policy!r}")
    records = sorted(images.records, key=lambda r: r.name)
    exact = _union_find(len(records))
    near = _union_find(len(records))
    first: dict[str, int] = {}
    for i, record in enumerate(records):
        j = first.setdefault(record.sha256, i)
        if j != i:
            exact.join(j, i)
            near.join(j, i)
    distance: dict[int, int] = {}
    if policy != "keep":
        unique = sorted(first.values())
        ph = np.array([records[i].phash for i in unique], dtype=np.uint64)
        dh = np.array([records[i].dhash for i in unique], dtype=np.uint64)
        aspect = np.log(np.array([records[i].width / records[i].height for i in unique]))
        for a, i in enumerate(unique[:-1]):
            close = ((_popcount(ph[a + 1:] ^ ph[a]) <= phash_bits) & (_popcount(dh[a + 1:] ^ dh[a]) <= dhash_bits)
                     & (np.abs(aspect[a + 1:] - aspect[a]) < np.log(1.1)))
            for b in np.flatnonzero(close):
                j = unique[a + 1 + int(b)]
                near.join(i, j)
                distance.setdefault(j, hamming(records[i].phash, records[j].phash))
    keep: list[ImageRecord] = []
    for members in near.groups().values():
        labels = sorted({str(records[i].label) for i in members})
        head = records[members[0]]
        for rank, i in enumerate(members):
            record = records[i]
            is_exact = exact.find(i) != i
            if len(labels) > 1:
                same = "the same image" if all(exact.find(m) == exact.find(members[0]) for m in members) \
                    else "near-identical images (one part shot again?)"
                reason, kept = f"{same} under different labels: " + ", ".join(labels), None
            elif is_exact:
                reason, kept = f"exact duplicate of {records[exact.find(i)].name}", records[exact.find(i)].name
            elif rank > 0 and policy == "remove":
                reason, kept = f"near duplicate of {head.name}", head.name
            else:
                record.group = head.name if len(members) > 1 else ""
                keep.append(record)
                continue
            images.duplicates.append({
                "removed": record.name, "label": record.label, "kept": kept,
                "kind": "exact" if is_exact else "near", "distance": 0 if is_exact else distance.get(i, 0),
                "group": [records[m].name for m in members], "reason": reason})
    keep.sort(key=lambda r: r.name)
    images.records = keep
    return images


class _union_find:  # noqa: N801 - a small helper, named for what it is
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, keep: int, other: int) -> None:
        a, b = self.find(keep), self.find(other)
        if a != b:
            self.parent[max(a, b)] = min(a, b)

    def groups(self) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        for i in range(len(self.parent)):
            found.setdefault(self.find(i), []).append(i)
        return found


def _popcount(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64."""
    bytes_ = values.view(np.uint8).reshape(-1, 8)
    return np.unpackbits(bytes_, axis=1).sum(axis=1)


def split(labels: Sequence[str], *, test_size: float = 0.2, seed: int = 42,
          groups: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Seeded stratified (train, test) row indexes; a class with a single image goes to train. With `groups`
    (`ImageRecord.group`, "" for an image alone), the images of one group land on the same side."""
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    labels = np.asarray(labels).astype(str)
    counts = Counter(labels)
    rows = np.arange(len(labels))
    alone = np.array([counts[v] < 2 for v in labels])
    kinds = len({v for v in labels[~alone]})
    wanted = max(kinds, int(np.ceil(test_size * int((~alone).sum()))))  # every class at least once in test
    if groups is None or not any(groups):
        stratify = labels[~alone] if wanted <= int((~alone).sum()) - kinds else None  # too few: plain shuffle
        train, test = train_test_split(rows[~alone], test_size=min(wanted, int((~alone).sum()) - 1),
                                       random_state=seed, stratify=stratify)
    else:
        names = np.array([g or f"\0{i}" for i, g in enumerate(groups)])
        folds = StratifiedGroupKFold(n_splits=max(2, round(1 / test_size)), shuffle=True, random_state=seed)
        inner_train, inner_test = next(folds.split(rows[~alone], labels[~alone], names[~alone]))
        train, test = rows[~alone][inner_train], rows[~alone][inner_test]
    return np.sort(np.concatenate([train, rows[alone]])), np.sort(test)
