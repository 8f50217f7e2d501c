"""The torch/transformers runtime: imported on demand, offline, with thread counts fit for small hosts."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mofang.core.errors import MofangError

INSTALL_HINT = "install mofang[nlp] (pip install -c constraints.txt -e '.[nlp]')"


def require_nlp() -> tuple[Any, Any]:
    """`(torch, transformers)`, or a MofangError saying how to install them. Forces offline mode: no
    code path may reach a model hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise MofangError(f"transformer models need torch and transformers ({exc.name} is missing): "
                          f"{INSTALL_HINT}") from None
    return torch, transformers


def load_tokenizer(folder: str | Path) -> Any:
    """The tokenizer of a local checkpoint folder (never downloaded); a pad token is set when missing."""
    _, transformers = require_nlp()
    try:
        with quiet_transformers():
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise MofangError(f"cannot load the tokenizer of {folder}: {exc}") from None
    if tokenizer.pad_token is None:
        # decoder-only checkpoints (Qwen, Llama) ship without one: pad with eos (or unk), masked anyway
        fallback = tokenizer.eos_token or tokenizer.unk_token
        if fallback is None:
            raise MofangError(f"the tokenizer of {folder} has no pad, eos or unk token to pad batches with")
        tokenizer.pad_token = fallback
    return tokenizer


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Intra-op threads: the cores not already busy (1-minute load average), at least 1, at most 8.

    Measured on a 2-core host at load 4–5: two threads made a MiniLM training step 5–7× slower than
    one (OpenMP threads spin waiting for a core another process holds); on an idle host two are faster."""
    cores = min(8, available_cores())
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # not Unix
        return cores
    return max(1, min(cores, int(cores - busy + 1)))


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with `n` intra-op threads, restoring the previous setting afterwards."""
    torch, _ = require_nlp()
    previous, wanted = torch.get_num_threads(), max(1, n or default_threads())
    if wanted != previous:
        torch.set_num_threads(wanted)
    try:
        yield
    finally:
        if wanted != previous:
            torch.set_num_threads(previous)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load-time notices ("newly initialized weights: classifier.*" is expected
    when a classification head is put on a base checkpoint)."""
    _, transformers = require_nlp()
    verbosity = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()  # "Loading weights: 100%" on every load and pickle
    loggers = [logging.getLogger(name) for name in ("transformers", "peft")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecations inside peft/transformers, not ours
            yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
