"""The base model of an instruction-tuning order: a local causal-LM checkpoint, checked before any training.

Everything that would make training fail late is asked here first: the folder exists and is a causal LM
(never downloaded), its tokenizer loads and has a chat template (or the order gives one), and the order's
longest sequence fits the model's positions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mofang.core.errors import MofangError
from mofang.models.transformer.catalog import resolve_entry
from mofang.models.transformer.chat_templates import chat_template
from mofang.models.transformer.runtime import load_tokenizer

FULL_TUNING_MAX_PARAMS = 50_000_000  # method auto: full fine-tuning below this many parameters, LoRA above


@dataclass
class BaseCheckpoint:
    """A checked base model: its folder, tokenizer, chat template and limits."""

    name: str
    path: Path
    tokenizer: Any
    template: str
    max_positions: int
    parameters: int
    architecture: str
    hidden_size: int


def open_base(base_model: str, *, template_override: str | None = None, max_seq_len: int | None = None,
              home: Path | None = None) -> BaseCheckpoint:
    """Resolve `base_model` (catalog name or folder) and check it can be instruction-tuned; MofangError otherwise."""
    entry = resolve_entry(base_model, home)
    config = _config(entry.path)
    architectures = [str(a) for a in config.get("architectures") or []]
    if not any(a.endswith("ForCausalLM") for a in architectures):
        raise MofangError(f"base_model {base_model!r} ({entry.path}) is not a causal language model "
                          f"(architectures: {', '.join(architectures) or 'none'}); instruction tuning needs a "
                          "*ForCausalLM checkpoint")
    if entry.kind != "causal-lm" and entry.source != "path":
        raise MofangError(f"catalog entry {entry.name!r} is listed as kind {entry.kind!r}; instruction tuning "
                          "needs kind causal-lm")
    if not any((entry.path / name).is_file() for name in ("model.safetensors", "model.safetensors.index.json",
                                                           "pytorch_model.bin", "pytorch_model.bin.index.json")):
        raise MofangError(f"base_model {base_model!r}: {entry.path} holds no weights (model.safetensors or "
                          "pytorch_model.bin)")
    tokenizer = load_tokenizer(entry.path)
    template = chat_template(tokenizer, template_override, where=f"base_model {base_model!r} ({entry.path})")
    max_positions = int(config.get("max_position_embeddings") or config.get("n_positions")
                        or config.get("seq_length") or 0)
    if max_positions <= 0:
        raise MofangError(f"base_model {base_model!r}: config.json states no max_position_embeddings")
    if max_seq_len is not None and max_seq_len > max_positions:
        raise MofangError(f"llm.max_seq_len {max_seq_len} is longer than base_model {base_model!r} allows "
                          f"({max_positions} positions): lower llm.max_seq_len to at most {max_positions}")
    return BaseCheckpoint(name=entry.name, path=entry.path, tokenizer=tokenizer, template=template,
                          max_positions=max_positions, parameters=_parameters(config, entry.path),
                          architecture=architectures[0], hidden_size=int(config.get("hidden_size") or 0))


def choose_method(method: str, parameters: int) -> tuple[str, str]:
    """(lora|full, why) for the order's `llm.method`."""
    if method != "auto":
        return method, f"llm.method {method} (the order's choice)"
    if parameters < FULL_TUNING_MAX_PARAMS:
        return "full", (f"full fine-tuning: {parameters / 1e6:.1f}M parameters is under "
                        f"{FULL_TUNING_MAX_PARAMS / 1e6:.0f}M (method auto)")
    return "lora", f"LoRA: {parameters / 1e6:.0f}M parameters (method auto: full tuning under " \
                   f"{FULL_TUNING_MAX_PARAMS / 1e6:.0f}M only)"


def _config(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MofangError(f"{folder / 'config.json'}: cannot read the model configuration: {exc}") from None


def _parameters(config: dict[str, Any], folder: Path) -> int:
    """Parameter count from the safetensors headers (no weights loaded); estimated from the config otherwise."""
    import struct

    total = 0
    for path in sorted(folder.glob("*.safetensors")):
        with path.open("rb") as handle:
            size = struct.unpack("<Q", handle.read(8))[0]
            header = json.loads(handle.read(size))
        for name, info in header.items():
            if name != "__metadata__":
                count = 1
                for dim in info["shape"]:
                    count *= dim
                total += count
    if total:
        return total
    hidden, layers = int(config.get("hidden_size", 0)), int(config.get("num_hidden_layers", 0))
    return int(config.get("vocab_size", 0)) * hidden + 12 * layers * hidden * hidden
