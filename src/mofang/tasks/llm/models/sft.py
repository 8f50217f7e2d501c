"""Supervised fine-tuning of a causal LM on conversations: LoRA or full, length-grouped batches, loss on the
assistant's tokens only, validation loss per epoch, best state kept, resumable after a crash.

Batches are grouped by length (sorted within shuffled pools of 50 batches), so a batch pads to a similar
length instead of to its longest random member: `bench/llm.py` measures the tokens/s this gives against the
Hugging Face Trainer with its default random batches.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mofang.core.errors import MofangError
from mofang.models.transformer.chat_templates import IGNORE
from mofang.models.transformer.runtime import quiet_transformers, require_nlp, torch_threads

POOL_BATCHES = 50  # batches sorted by length together
WARMUP = 0.05  # share of the planned steps with a rising learning rate
MAX_VALID_ROWS = 256  # validation loss is read on at most this many rows
STATE = "state.pt"  # the resumable state of a trial (trainable weights, optimizer, position)
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

Example = tuple[list[int], list[int]]  # (input_ids, labels)


@dataclass(frozen=True)
class TrialConfig:
    """One point of the search: method, LoRA rank (None for full tuning), learning rate, epochs."""

    method: str
    rank: int | None
    learning_rate: float
    epochs: int

    @property
    def name(self) -> str:
        what = f"lora-r{self.rank}" if self.method == "lora" else "full"
        return f"sft-{what}-lr{self.learning_rate:g}"


@dataclass
class SFTResult:
    """What a trial did: its best validation loss, where the best weights are, and how fast it ran."""

    config: TrialConfig
    folder: str  # the best weights: a peft adapter folder (LoRA) or a full checkpoint
    valid_loss: float
    best_epoch: float
    steps: int
    tokens: int  # non-padding tokens read by training steps
    padded_tokens: int  # tokens including padding (what the model computed)
    seconds: float
    epochs_done: float
    stopped: str | None = None
    curve: list[dict[str, float]] = field(default_factory=list)

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(config=asdict(self.config), tokens_per_s=round(self.tokens_per_s, 2),
                    steps_per_s=round(self.steps_per_s, 4))
        return data


def device_of(torch: Any) -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_causal_lm(path: Path, device: str) -> Any:
    """The base model in float32 (bfloat16 autocast runs the GPU steps)."""
    torch, transformers = require_nlp()
    with quiet_transformers():
        model = transformers.AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True,
                                                                  torch_dtype=torch.float32)
    return model.to(device)


def with_lora(model: Any, rank: int, seed: int) -> Any:
    """LoRA adapters (alpha = 2 × rank, dropout 0.05) on the attention and MLP projections the model has."""
    import peft
    import torch

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [t for t in LORA_TARGETS if t in names] or "all-linear"
    torch.manual_seed(seed)
    config = peft.LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=targets,
                             task_type="CAUSAL_LM")

    with quiet_transformers():
        return peft.get_peft_model(model, config)


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Row indices in batches of similar length: shuffle, sort pools of POOL_BATCHES batches by length,
    cut into batches, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * POOL_BATCHES
    batches: list[list[int]] = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start:start + pool], key=lambda i: lengths[i], reverse=True)
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def collate(examples: Sequence[Example], pad_id: int, torch: Any, device: str) -> dict[str, Any]:
    """Right-padded tensors; padding is masked out of attention and loss."""
    width = max(len(ids) for ids, _ in examples)
    ids = [list(i) + [pad_id] * (width - len(i)) for i, _ in examples]
    labels = [list(lab) + [IGNORE] * (width - len(lab)) for _, lab in examples]
    mask = [[1] * len(i) + [0] * (width - len(i)) for i, _ in examples]
    return {"input_ids": torch.tensor(ids, device=device), "labels": torch.tensor(labels, device=device),
            "attention_mask": torch.tensor(mask, device=device)}


def token_loss(model: Any, batch: dict[str, Any], torch: Any) -> tuple[Any, int]:
    """(sum of the cross-entropy over the label tokens, how many there are) of one batch.

    The output layer runs only at positions whose next token is learned: with a 150k-token vocabulary the
    logits of every position ([batch, length, vocab]) and their gradient were most of a step's time and
    memory, and prompt positions never needed them."""
    labels = torch.nn.functional.pad(batch["labels"], (0, 1), value=IGNORE)[:, 1:]  # the next token's label
    keep = labels != IGNORE
    core = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = core.get_output_embeddings()
    if _plain_head(core) and head is not None:
        hidden = core.get_decoder()(input_ids=batch["input_ids"],
                                    attention_mask=batch["attention_mask"]).last_hidden_state
        logits = head(hidden[keep]).float()
    else:  # a model that scales or caps its logits: its own forward pass
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        logits = full[keep].float()
    loss = torch.nn.functional.cross_entropy(logits, labels[keep], reduction="sum")
    return loss, int(keep.sum())


def _plain_head(model: Any) -> bool:
    """Whether logits are just the output layer applied to the decoder's last hidden state."""
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "get_decoder"):
        return False
    scaled = any(getattr(config, name, None) not in (None, 1.0) for name in ("final_logit_softcapping",
                                                                             "logit_scale", "logits_scaling"))
    return not scaled


def validation_loss(model: Any, examples: Sequence[Example], batch_size: int, pad_id: int, device: str) -> float:
    """Mean loss per assistant token over (at most MAX_VALID_ROWS) validation conversations."""
    import torch

    rows = list(examples[:MAX_VALID_ROWS])
    if not rows:
        return float("nan")
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    with torch.no_grad(), _autocast(torch, device):
        for start in range(0, len(order), batch_size):
            batch = collate([rows[i] for i in order[start:start + batch_size]], pad_id, torch, device)
            loss, n = token_loss(model, batch, torch)
            total, count = total + float(loss), count + n
    if was_training:
        model.train()
    return total / max(count, 1)


def train_sft(base_path: Path, train: Sequence[Example], valid: Sequence[Example], config: TrialConfig, *,
              folder: Path, pad_id: int, batch_size: int, deadline: float, seed: int,
              on_step: Callable[[int, int, float], None] | None = None, tokenizer: Any = None,
              threads: int | None = None) -> SFTResult:
    """Fine-tune the model at `base_path` on `train` under `config` until its epochs are done or `deadline`
    (time.monotonic()) passes; keep the weights with the lowest validation loss in `folder/best`.

    A trial folder holding a state from an interrupted run (same config) resumes at its last epoch end.
    `threads`: CPU threads (None: the cores the load average leaves free)."""
    torch, _ = require_nlp()
    if not train:
        raise MofangError("no training conversations left to fine-tune on")
    folder.mkdir(parents=True, exist_ok=True)
    device = device_of(torch)
    with torch_threads(threads):
        model = load_causal_lm(base_path, device)
        if config.method == "lora":
            model = with_lora(model, config.rank or 8, seed)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
        lengths = [len(ids) for ids, _ in train]
        per_epoch = math.ceil(len(train) / batch_size)
        planned = per_epoch * config.epochs
        warmup = max(1, int(WARMUP * planned))

        def rate(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, planned - warmup))))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
        progress = {"epoch": 0, "step": 0, "tokens": 0, "padded": 0, "seconds": 0.0, "best": math.inf,
                    "best_epoch": 0.0, "curve": []}
        state_path = folder / STATE
        if state_path.exists():
            progress = _resume(state_path, config, model, optimizer, scheduler, torch)
        best_dir = folder / "best"
        if not best_dir.exists() or not math.isfinite(progress["best"]):
            progress["best"] = validation_loss(model, valid, batch_size, pad_id, device)
            progress["curve"].append({"epoch": 0.0, "valid_loss": round(progress["best"], 5)})
            _save_weights(model, best_dir, config, tokenizer)
        stopped = None
        started = time.monotonic()
        model.train()
        for epoch in range(progress["epoch"], config.epochs):
            rng = random.Random(seed * 1000 + epoch)
            batches = length_grouped_batches(lengths, batch_size, rng)
            running, seen = 0.0, 0
            for index, members in enumerate(batches):
                if time.monotonic() >= deadline:
                    stopped = f"the time budget ended in epoch {epoch + 1} after {index} of {len(batches)} batches"
                    break
                batch = collate([train[i] for i in members], pad_id, torch, device)
                with _autocast(torch, device):
                    loss_sum, count = token_loss(model, batch, torch)
                loss = loss_sum / max(count, 1)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                progress["step"] += 1
                progress["tokens"] += int(batch["attention_mask"].sum())
                progress["padded"] += int(batch["attention_mask"].numel())
                running, seen = running + float(loss.detach()), seen + 1
                if on_step is not None:
                    on_step(progress["step"], planned, float(loss.detach()))
            done = epoch + (1.0 if stopped is None else index / max(1, len(batches)))
            if seen:
                valid_loss = validation_loss(model, valid, batch_size, pad_id, device)
                progress["curve"].append({"epoch": round(done, 3), "train_loss": round(running / seen, 5),
                                          "valid_loss": round(valid_loss, 5)})
                if valid_loss < progress["best"]:
                    progress.update(best=valid_loss, best_epoch=round(done, 3))
                    _save_weights(model, best_dir, config, tokenizer)
            progress["seconds"] += time.monotonic() - started
            started = time.monotonic()
            if stopped is not None:
                progress["epoch"] = epoch
                break
            progress["epoch"] = epoch + 1
            _save_state(state_path, config, model, optimizer, scheduler, progress, torch)
        epochs_done = progress["curve"][-1]["epoch"] if progress["curve"] else 0.0
    return SFTResult(config=config, folder=str(best_dir), valid_loss=progress["best"],
                     best_epoch=progress["best_epoch"], steps=progress["step"], tokens=progress["tokens"],
                     padded_tokens=progress["padded"], seconds=progress["seconds"], epochs_done=epochs_done,
                     stopped=stopped, curve=progress["curve"])


def merge_adapter(base_path: Path, adapter: Path, out: Path, tokenizer: Any) -> Path:
    """The base weights with the LoRA adapter folded in, saved as one checkpoint (with the tokenizer)."""
    import peft
    import torch

    model = load_causal_lm(base_path, "cpu")
    with quiet_transformers():
        merged = peft.PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    if out.exists():
        shutil.rmtree(out)
    with torch.no_grad(), quiet_transformers():
        merged.save_pretrained(str(out), safe_serialization=True)
        tokenizer.save_pretrained(str(out))
    return out


def _autocast(torch: Any, device: str) -> Any:
    import contextlib

    if device == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _save_weights(model: Any, folder: Path, config: TrialConfig, tokenizer: Any) -> None:
    """The adapter (LoRA) or the whole model (full), written to a staging folder then renamed into place."""
    staging = folder.with_name(folder.name + ".staging")
    if staging.exists():
        shutil.rmtree(staging)
    with quiet_transformers():
        model.save_pretrained(str(staging), safe_serialization=True)
        if config.method == "full" and tokenizer is not None:
            tokenizer.save_pretrained(str(staging))
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)


def _trainable_state(model: Any) -> dict[str, Any]:
    return {name: p.detach().cpu() for name, p in model.named_parameters() if p.requires_grad}


def _save_state(path: Path, config: TrialConfig, model: Any, optimizer: Any, scheduler: Any,
                progress: dict[str, Any], torch: Any) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"config": asdict(config), "weights": _trainable_state(model), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "progress": progress}, tmp)
    tmp.replace(path)


def _resume(path: Path, config: TrialConfig, model: Any, optimizer: Any, scheduler: Any,
            torch: Any) -> dict[str, Any]:
    """Load an interrupted trial's state; a state of another configuration is discarded."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("config") != asdict(config):
        path.unlink()
        return {"epoch": 0, "step": 0, "tokens": 0, "padded": 0, "seconds": 0.0, "best": math.inf,
                "best_epoch": 0.0, "curve": []}
    current = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state["weights"].items():
            current[name].copy_(value.to(current[name].device))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    progress = state["progress"]
    progress["resumed_at_epoch"] = progress["epoch"]
    return progress


def read_result(folder: Path) -> dict[str, Any] | None:
    """A finished trial's record (result.json), if it finished in an earlier run."""
    path = folder / "result.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
