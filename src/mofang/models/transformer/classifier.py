"""TransformerClassifier: fine-tune a local checkpoint for sequence classification, sklearn-style."""

from __future__ import annotations

import contextlib
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mofang.core.errors import MofangError
from mofang.models.transformer.runtime import (
    load_tokenizer,
    quiet_transformers,
    require_nlp,
    torch_threads,
)

# scorer(y_true as class indices, proba with one column per entry of classes_) -> higher is better
Scorer = Callable[[np.ndarray, np.ndarray], float]
TRAIN_BUCKET = 50  # batches per length-sorted bucket: dynamic padding wastes little, order stays random
PREDICT_SPEEDUP = 3.0  # a forward pass alone ≈ 3× the training throughput; used until one is measured
_PARAMS = ("checkpoint", "max_length", "keep", "learning_rate", "epochs", "batch_size", "lora_rank", "lora_alpha",
           "lora_dropout", "weight_decay", "warmup_ratio", "eval_every", "max_eval_rows", "eval_batch_size",
           "seed", "threads", "device")


class TransformerClassifier:
    """Fine-tunes `AutoModelForSequenceClassification` from a local checkpoint folder on texts.

    Full fine-tuning, or LoRA (`lora_rank` > 0; merged into the weights after training). Batches are
    padded per batch (length-bucketed); AdamW with linear warmup/decay; evaluates on valid at each epoch
    end, every `eval_every` steps if set, and when it stops, keeping the best weights; stops in time for
    `deadline` (a `time.monotonic()` value), shortening the learning-rate schedule so it still decays.
    A text longer than `max_length` tokens keeps its `head`, `tail` or `head+tail` (a quarter of the
    room from the start, the rest from the end: the best of the three on long reviews in Sun et al.
    2019, "How to Fine-Tune BERT for Text Classification").

    `classes_` holds the class indices seen in training (sorted); `predict_proba` columns follow it.
    Given a 0/1 matrix `y` (rows × classes) it trains a multi-label model (one sigmoid per class,
    binary cross-entropy); `classes_` is then every column and `predict` answers a 0/1 matrix at 0.5.
    Pickles as the Hugging Face checkpoint files (config, tokenizer, safetensors weights), so a loaded
    model predicts exactly like the fitted one. `stats_` reports samples/s of training and prediction.
    """

    def __init__(self, checkpoint: str | Path | None = None, *, max_length: int = 128, keep: str = "head+tail",
                 learning_rate: float = 5e-5, epochs: float = 3.0, batch_size: int = 16, lora_rank: int = 0,
                 lora_alpha: float | None = None, lora_dropout: float = 0.05, weight_decay: float = 0.01,
                 warmup_ratio: float = 0.06, eval_every: int | None = None, max_eval_rows: int = 2000,
                 eval_batch_size: int = 64, seed: int = 42, threads: int | None = None,
                 device: str | None = None) -> None:
        self.checkpoint = checkpoint
        self.max_length = max_length
        self.keep = keep
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.weight_decay = weight_decay
        self.warmup_ratio = warmup_ratio
        self.eval_every = eval_every
        self.max_eval_rows = max_eval_rows
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.threads = threads
        self.device = device

    # -- sklearn conventions ---------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _PARAMS}

    def set_params(self, **params: Any) -> TransformerClassifier:
        for name, value in params.items():
            if name not in _PARAMS:
                raise ValueError(f"TransformerClassifier: unknown param {name!r} (expected: {', '.join(_PARAMS)})")
            setattr(self, name, value)
        return self

    # -- fitting ---------------------------------------------------------------------------------
    def fit(self, texts: Sequence[Any] | np.ndarray, y: Sequence[int] | np.ndarray,
            valid_texts: Sequence[Any] | np.ndarray | None = None, valid_y: Sequence[int] | np.ndarray | None = None,
            deadline: float | None = None, scorer: Scorer | None = None) -> TransformerClassifier:
        """Fine-tune on `texts` with class indices `y` (or a 0/1 matrix: multi-label); select the best
        weights on the valid rows with `scorer` (default accuracy, multi-label micro F1 at 0.5; ties go to
        the lower log loss). With a `deadline`, training stops early enough to run its last evaluation
        and one prediction pass over `valid_texts`."""
        torch, transformers = require_nlp()
        if self.checkpoint is None:
            raise MofangError("TransformerClassifier: no checkpoint folder given")
        started = time.monotonic()
        train_texts = _as_texts(texts)
        y = np.asarray(y, dtype=int)
        if len(train_texts) != len(y) or len(y) == 0:
            raise ValueError(f"TransformerClassifier: {len(train_texts)} texts but {len(y)} labels")
        self.multi_label_ = y.ndim == 2
        if self.multi_label_:
            self.classes_, targets = np.arange(y.shape[1]), y.astype(np.float32)
        else:
            self.classes_ = np.unique(y)
            targets = np.searchsorted(self.classes_, y)
        self._memo = None
        with torch_threads(self.threads):
            torch.manual_seed(self.seed)
            self.device_ = _device(torch, self.device)
            self.tokenizer_, model = self._load(torch, transformers, len(self.classes_))
            train_ids = self._encode(train_texts)
            evaluator = _Evaluator(self, valid_texts, valid_y, scorer)
            model, self.stats_ = self._train(torch, transformers, model, train_ids, targets, evaluator, deadline)
            self.model_ = model.eval()
        self.stats_["seconds"] = round(time.monotonic() - started, 3)
        return self

    def _load(self, torch: Any, transformers: Any, num_labels: int) -> tuple[Any, Any]:
        folder = Path(str(self.checkpoint))
        tokenizer = load_tokenizer(folder)
        try:
            with quiet_transformers():
                model = transformers.AutoModelForSequenceClassification.from_pretrained(
                    str(folder), num_labels=num_labels, local_files_only=True, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise MofangError(f"cannot load {folder} as a sequence classifier: {exc}") from None
        model.config.pad_token_id = tokenizer.pad_token_id
        if self.lora_rank:
            model = self._with_lora(model)
        return tokenizer, model.to(self.device_)

    def _with_lora(self, model: Any) -> Any:
        try:
            import peft
        except ImportError:
            raise MofangError("LoRA needs the peft package: install mofang[nlp]") from None
        mapping = getattr(peft.utils.constants, "TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING", {})
        targets = None if model.config.model_type in mapping else "all-linear"
        # BERT-style heads read a pooler (dense + tanh) the base checkpoint may never have trained for this
        # (sentence-transformers use mean pooling): frozen, it cost 0.06 accuracy on review polarity
        pooler = ["pooler"] if any(name.split(".")[-1] == "pooler" for name, _ in model.named_modules()) else None
        config = peft.LoraConfig(task_type=peft.TaskType.SEQ_CLS, r=int(self.lora_rank),
                                 lora_alpha=float(self.lora_alpha or 2 * self.lora_rank),
                                 lora_dropout=self.lora_dropout, target_modules=targets, modules_to_save=pooler)
        with quiet_transformers():
            return peft.get_peft_model(model, config)

    def _train(self, torch: Any, transformers: Any, model: Any, train_ids: list[list[int]], targets: np.ndarray,
               evaluator: _Evaluator, deadline: float | None) -> tuple[Any, dict[str, Any]]:
        n, batch = len(train_ids), max(1, int(self.batch_size))
        steps_per_epoch = math.ceil(n / batch)
        planned = max(1, round(float(self.epochs) * steps_per_epoch))
        plan = {"total": planned}
        warmup = int(self.warmup_ratio * plan["total"])

        def lr_factor(step: int) -> float:  # linear warmup then decay to 0 at plan["total"] (may shrink)
            if step < warmup:
                return (step + 1) / (warmup + 1)
            return max(0.0, (plan["total"] - step) / max(1, plan["total"] - warmup))

        trainable = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
        no_decay = [p for name, p in trainable if p.ndim < 2]  # biases and norms
        decay = [p for name, p in trainable if p.ndim >= 2]
        optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": self.weight_decay},
                                       {"params": no_decay, "weight_decay": 0.0}], lr=self.learning_rate)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
        rng = np.random.default_rng(self.seed)
        best: dict[str, Any] = {"key": None, "state": None, "step": 0, "score": None}
        step, samples, train_s, stopped = 0, 0, 0.0, "epochs"
        model.train()

        def evaluate() -> None:
            model.eval()
            key, score = evaluator.run(model)
            model.train()
            if key is not None and (best["key"] is None or key > best["key"]):
                best.update(key=key, score=score, step=step,
                            state={name: p.detach().clone() for name, p in trainable})

        evaluated_at = -1
        while step < plan["total"] and stopped == "epochs":
            for rows in _train_batches(train_ids, batch, rng):
                if step >= plan["total"]:
                    break
                if deadline is not None and step > 0:
                    now = time.monotonic()
                    per_step = train_s / step
                    left = deadline - now - evaluator.reserve_s(per_step / batch)
                    if left < per_step:
                        stopped = f"deadline: stopped after {step} of {planned} steps"
                        break
                    if step in (10, 30) or step % 100 == 0:  # fit the schedule to the time left
                        # each step also carries its share of the epoch-end evaluations
                        cost = per_step + evaluator.eval_s(per_step / batch) / steps_per_epoch
                        plan["total"] = min(plan["total"], step + max(1, int(left / cost)))
                t0 = time.monotonic()
                input_ids, mask = _pad([train_ids[i] for i in rows], self.tokenizer_.pad_token_id, self.device_)
                labels = torch.as_tensor(targets[rows], device=self.device_)
                with _autocast(torch, self.device_):
                    logits = model(input_ids=input_ids, attention_mask=mask).logits
                if self.multi_label_:
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), labels)
                else:
                    loss = torch.nn.functional.cross_entropy(logits.float(), labels.long())
                loss.backward()
                torch.nn.utils.clip_grad_norm_([p for _, p in trainable], 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                train_s += time.monotonic() - t0
                step += 1
                samples += len(rows)
                if (self.eval_every and step % self.eval_every == 0) or step % steps_per_epoch == 0:
                    evaluate()
                    evaluated_at = step
        if evaluated_at != step:
            evaluate()
        if step < planned and stopped == "epochs":  # the schedule was shortened to fit the deadline
            stopped = f"deadline: schedule fitted to {step} of {planned} steps"
        if best["state"] is not None and best["step"] != step:
            with torch.no_grad():
                for name, p in trainable:
                    p.copy_(best["state"][name])
        if self.lora_rank:
            with quiet_transformers():
                model = model.merge_and_unload()
        stats = {"steps": step, "planned_steps": planned, "epochs_run": round(samples / n, 3),
                 "train_samples": samples, "train_seconds": round(train_s, 3),
                 "train_samples_per_s": round(samples / train_s, 2) if train_s else None,
                 "best_step": best["step"], "best_valid_score": best["score"], "eval_rows": evaluator.rows,
                 "evaluations": evaluator.count, "stopped": stopped, "device": str(self.device_),
                 "threads": torch.get_num_threads()}
        return model, stats

    # -- predicting ------------------------------------------------------------------------------
    def predict_proba(self, texts: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Class probabilities, one column per entry of `classes_`.

        The result of the last call on an ndarray is remembered by identity: the trainer scores the same
        valid array several times (metrics, threshold tuning) and each pass costs seconds."""
        memo = getattr(self, "_memo", None)
        if memo is not None and memo[0] is texts:
            return memo[1].copy()
        torch, _ = require_nlp()
        started = time.monotonic()
        values = _as_texts(texts)
        with torch_threads(self.threads):
            proba = self._proba(torch, self.model_, values)
        if values:
            self.stats_["predict_samples_per_s"] = round(len(values) / max(time.monotonic() - started, 1e-9), 2)
        self._memo = (texts, proba) if isinstance(texts, np.ndarray) and len(values) > 16 else None
        return proba.copy()

    def predict(self, texts: Sequence[Any] | np.ndarray) -> np.ndarray:
        """The most probable class index per text (multi-label: a 0/1 matrix at probability 0.5)."""
        proba = self.predict_proba(texts)
        if getattr(self, "multi_label_", False):
            return (proba >= 0.5).astype(int)
        return self.classes_[proba.argmax(axis=1)]

    def _proba(self, torch: Any, model: Any, texts: list[str]) -> np.ndarray:
        """Forward passes in length-sorted batches (little padding), answers in the input order."""
        out = np.zeros((len(texts), len(self.classes_)))
        if not texts:
            return out
        ids = self._encode(texts)
        order = np.argsort([len(r) for r in ids], kind="stable")
        size = max(1, int(self.eval_batch_size))
        with torch.inference_mode():
            for start in range(0, len(order), size):
                rows = order[start:start + size]
                input_ids, mask = _pad([ids[i] for i in rows], self.tokenizer_.pad_token_id, self.device_)
                with _autocast(torch, self.device_):
                    logits = model(input_ids=input_ids, attention_mask=mask).logits
                out[rows] = self._activate(torch, logits)
        return out

    def _activate(self, torch: Any, logits: Any) -> np.ndarray:
        """Logits → probabilities: softmax over classes, or one sigmoid per class (multi-label)."""
        if getattr(self, "multi_label_", False):
            return torch.sigmoid(logits.float()).cpu().numpy()
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return encode_window(self.tokenizer_, texts, int(self.max_length), self.keep)

    # -- persisting ------------------------------------------------------------------------------
    def save_checkpoint(self, folder: str | Path) -> Path:
        """Write the fitted model as a Hugging Face checkpoint folder (config, tokenizer, safetensors)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with quiet_transformers():
            self.model_.save_pretrained(str(folder), safe_serialization=True)
            self.tokenizer_.save_pretrained(str(folder))
        return folder

    def __getstate__(self) -> dict[str, Any]:
        state = {"params": self.get_params()}
        if hasattr(self, "model_"):
            with tempfile.TemporaryDirectory(prefix="mofang-tc-") as tmp:
                self.save_checkpoint(tmp)
                files = {p.relative_to(tmp).as_posix(): p.read_bytes()
                         for p in sorted(Path(tmp).rglob("*")) if p.is_file()}
            state.update(classes_=self.classes_, multi_label_=self.multi_label_, stats_=dict(self.stats_),
                         files=files)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state["params"])  # type: ignore[misc]
        if "files" not in state:
            return
        torch, transformers = require_nlp()

        self.classes_, self.multi_label_, self.stats_ = state["classes_"], state["multi_label_"], state["stats_"]
        self._memo = None
        with tempfile.TemporaryDirectory(prefix="mofang-tc-") as tmp:
            for name, data in state["files"].items():
                target = Path(tmp) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            self.tokenizer_ = load_tokenizer(tmp)
            with quiet_transformers():
                model = transformers.AutoModelForSequenceClassification.from_pretrained(
                    tmp, local_files_only=True, dtype=torch.float32)
        self.device_ = _device(torch, self.device)
        self.model_ = model.to(self.device_).eval()

    def __repr__(self) -> str:
        lora = f", lora_rank={self.lora_rank}" if self.lora_rank else ""
        return (f"TransformerClassifier({Path(str(self.checkpoint)).name!r}, lr={self.learning_rate:g}, "
                f"epochs={self.epochs:g}{lora})")


class _Evaluator:
    """Scores the model on (a seeded sample of at most `max_eval_rows` of) the valid rows."""

    def __init__(self, owner: TransformerClassifier, texts: Sequence[Any] | np.ndarray | None,
                 y: Sequence[int] | np.ndarray | None, scorer: Scorer | None) -> None:
        self.owner, self.count = owner, 0
        self.scorer = scorer or (_micro_f1 if owner.multi_label_ else
                                 (lambda y_true, proba: _accuracy(y_true, proba, owner.classes_)))
        self.full_rows = 0 if texts is None else len(texts)
        self.rows, self.seconds_per_row = 0, None
        if texts is None or y is None or len(texts) == 0:
            self.ids: list[list[int]] = []
            return
        values, y = _as_texts(texts), np.asarray(y, dtype=int)
        if len(values) > owner.max_eval_rows:
            keep = np.sort(np.random.default_rng(owner.seed).choice(len(values), owner.max_eval_rows, replace=False))
            values, y = [values[i] for i in keep], y[keep]
        self.ids, self.y, self.rows = owner._encode(values), y, len(values)

    def eval_s(self, train_seconds_per_row: float) -> float:
        """Estimated seconds of one evaluation (measured once one has run)."""
        return 1.2 * (self.seconds_per_row or train_seconds_per_row / PREDICT_SPEEDUP) * self.rows

    def reserve_s(self, train_seconds_per_row: float) -> float:
        """Seconds to keep for the last evaluation plus one prediction pass over all valid rows."""
        return self.eval_s(train_seconds_per_row) * (1 + self.full_rows / max(1, self.rows))

    def run(self, model: Any) -> tuple[tuple[float, float] | None, float | None]:
        """(selection key, score) of the current weights; (None, None) without valid rows."""
        if not self.ids:
            return None, None
        torch, _ = require_nlp()
        started = time.monotonic()
        owner = self.owner
        proba = np.zeros((len(self.ids), len(owner.classes_)))
        order = np.argsort([len(r) for r in self.ids], kind="stable")
        size = max(1, int(owner.eval_batch_size))
        with torch.inference_mode():
            for start in range(0, len(order), size):
                rows = order[start:start + size]
                input_ids, mask = _pad([self.ids[i] for i in rows], owner.tokenizer_.pad_token_id, owner.device_)
                with _autocast(torch, owner.device_):
                    logits = model(input_ids=input_ids, attention_mask=mask).logits
                proba[rows] = owner._activate(torch, logits)
        self.seconds_per_row = (time.monotonic() - started) / len(self.ids)
        self.count += 1
        score = float(self.scorer(self.y, proba))
        loss = _bce(self.y, proba) if owner.multi_label_ else _log_loss(self.y, proba, owner.classes_)
        return (score, -loss), score


def encode_window(tokenizer: Any, texts: list[str], max_length: int, keep: str = "head+tail") -> list[list[int]]:
    """Token ids with the tokenizer's special tokens, at most `max_length` per text, a long text cut to
    its `head`, `tail` or `head+tail` (a quarter of the room for the start, the rest for the end).
    An empty text gets one pad token, so every row has a position to classify from."""
    if keep == "head":
        encoded = tokenizer(texts, truncation=True, max_length=max_length, verbose=False)["input_ids"]
    elif keep in ("tail", "head+tail"):
        encoded = tokenizer(texts, verbose=False)["input_ids"]
        plain, full = tokenizer("x", add_special_tokens=False)["input_ids"], tokenizer("x")["input_ids"]
        before = next((i for i in range(len(full)) if full[i:i + len(plain)] == plain), 0)
        after = len(full) - before - len(plain)  # special tokens around a text (BERT: 1 and 1)
        room = max(1, max_length - before - after)
        head = room // 4 if keep == "head+tail" else 0
        encoded = [row if len(row) <= max_length else
                   row[:before] + row[before:before + head] + row[len(row) - after - (room - head):]
                   for row in encoded]
    else:
        raise ValueError(f"keep={keep!r} (expected: head, tail, head+tail)")
    return [row or [tokenizer.pad_token_id] for row in encoded]


def _accuracy(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    return float(np.mean(np.asarray(y) == classes[proba.argmax(axis=1)]))


def _micro_f1(y: np.ndarray, proba: np.ndarray) -> float:
    pred = proba >= 0.5
    tp = float(np.sum(pred & (y == 1)))
    return 2 * tp / max(1.0, float(pred.sum() + (y == 1).sum()))


def _bce(y: np.ndarray, proba: np.ndarray) -> float:
    p = np.clip(proba, 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _log_loss(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    position = np.searchsorted(classes, y)
    known = (position < len(classes)) & (classes[np.minimum(position, len(classes) - 1)] == y)
    if not known.any():
        return 0.0
    picked = proba[np.flatnonzero(known), position[known]]
    return float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))


def _as_texts(texts: Sequence[Any] | np.ndarray) -> list[str]:
    values = np.asarray(texts, dtype=object).ravel().tolist() if not isinstance(texts, list) else texts
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]


def _train_batches(ids: list[list[int]], batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of batches: shuffled, sorted by length within buckets, bucket batches shuffled."""
    order = rng.permutation(len(ids))
    batches: list[np.ndarray] = []
    span = batch * TRAIN_BUCKET
    for start in range(0, len(order), span):
        bucket = order[start:start + span]
        bucket = bucket[np.argsort([len(ids[i]) for i in bucket], kind="stable")]
        batches += [bucket[i:i + batch] for i in range(0, len(bucket), batch)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _pad(rows: list[list[int]], pad_id: int, device: Any) -> tuple[Any, Any]:
    """Right-padded input ids and attention mask for one batch, padded to its longest row."""
    import torch

    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = row
        mask[i, :len(row)] = 1
    return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)


def _device(torch: Any, wanted: str | None) -> Any:
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _autocast(torch: Any, device: Any) -> Any:
    """bfloat16 autocast on GPU (fp32 master weights); plain fp32 on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
