"""Tiny randomly initialised checkpoints with real tokenizers, for tests and smoke runs (no download)."""

from __future__ import annotations

from pathlib import Path

from mofang.models.transformer.catalog import resolve
from mofang.models.transformer.chat_templates import NAMED
from mofang.models.transformer.runtime import load_tokenizer, quiet_transformers, require_nlp
from mofang.models.transformer.tokenizers import qwen_tokenizer_fast


def tiny_bert_checkpoint(folder: str | Path, hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """A random BERT (hidden 32, 2 layers) with the bundled MiniLM English WordPiece tokenizer."""
    torch, transformers = require_nlp()

    folder = Path(folder)
    tokenizer = load_tokenizer(resolve("minilm-l6"))
    config = transformers.BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                                     num_attention_heads=max(1, hidden // 16), intermediate_size=hidden * 2,
                                     max_position_embeddings=256, pad_token_id=tokenizer.pad_token_id,
                                     architectures=["BertModel"])
    torch.manual_seed(seed)
    with quiet_transformers():
        transformers.BertModel(config).save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
    return folder


def tiny_qwen2_checkpoint(folder: str | Path, hidden: int = 32, layers: int = 2, seed: int = 0,
                          tokenizer_folder: str | Path | None = None, chat_template: str | None = "chatml",
                          max_positions: int = 512) -> Path:
    """A random Qwen2 causal LM (hidden 32, 2 layers, tied embeddings) with the real Qwen byte-level BPE
    tokenizer (reads Chinese); pad = eos = `<|endoftext|>`. `tokenizer_folder` reuses a tokenizer saved
    by `save_qwen_tokenizer` (building one takes a few seconds). Like a Qwen2 instruct checkpoint, the
    tokenizer carries the ChatML chat template (None: no template, like a base checkpoint)."""
    torch, transformers = require_nlp()

    folder = Path(folder)
    tokenizer = load_tokenizer(tokenizer_folder) if tokenizer_folder else qwen_tokenizer_fast()
    config = transformers.Qwen2Config(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                                      max_position_embeddings=max_positions, tie_word_embeddings=True,
                                      pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                                      bos_token_id=tokenizer.eos_token_id, architectures=["Qwen2ForCausalLM"])
    if chat_template:
        tokenizer.chat_template = NAMED.get(chat_template, chat_template)
    torch.manual_seed(seed)
    with quiet_transformers():
        transformers.Qwen2ForCausalLM(config).save_pretrained(str(folder))
        tokenizer.save_pretrained(str(folder))
    return folder
