"""Benchmark: Mofang's SFT loop next to the Hugging Face Trainer (throughput), then base vs tuned (quality).

Two shared instruction sets: LawBench 3-8 legal consultation (`qa/lawbench/3-8.json`, instruction + question →
answer with its legal basis) and the medical dialogue table (`qa/medical_dialogue_internal_gb18030.csv`, GB18030,
prompt "科室：{department}\\n{title}\\n{ask}" → answer). Each is read by the product's readers and
`to_instructions`, shuffled once (seed), rendered with a system prompt and the checkpoint's own chat template, and
tokenised by `supervised_ids` (loss on the assistant's tokens only); conversations over --max-seq-len tokens are
dropped. The first --eval-rows kept rows are held out for evaluation, the next --valid-rows are Mofang's
validation rows, the next --train-rows (without near copies of an eval prompt) plus --refusal-pairs out-of-domain
questions answered with the product's refusal message are trained on — as the data workshop builds them.

Throughput: the same model (same init, the same LoRA config via peft, or full tuning), the same examples, the
same number of optimizer steps, batch size, learning rate (warmup 5 %, cosine decay), gradient clipping 1.0 and
weight decay 0:
  (a) Mofang `train_sft`: batches grouped by length (sorted within shuffled pools of 50 batches), the output
      layer applied only at positions whose next token is learned;
  (b) the peer, `transformers.Trainer` as shipped: its default random sampler, its default optimizer, and
      `DataCollatorForSeq2Seq` (padding to the longest in the batch, labels -100); `max_steps`, no evaluation, no
      saving, no reports. Its wall is `trainer.train()`; a collator wrapper counts the tokens of the batches used.
Tokens/s counts non-padding tokens; the padding share is the share of computed positions that were padding.
The peer runs first, then Mofang, once each, with the same number of CPU threads (--threads, default every core;
the product itself picks them from the load average). On a shared machine other people's work shifts either run:
read the ratio, measured minutes apart, rather than the absolute numbers, and rerun when the load column differs.
Mofang's seconds include its end-of-epoch validation on the --valid-rows rows and saving its best weights; the
peer does neither. "median step s" is the median time between consecutive optimizer steps of each loop (its
set-up, first step and epoch ends left out): the cost of a step alone.

Evaluation, on the held-out rows of each set: the base checkpoint as it is and the tuned one (Mofang's best
weights; a LoRA adapter merged with `merge_adapter`) answer greedily (--max-new-tokens). ROUGE-L, BLEU and
token F1 on Chinese-aware tokens, the hallucination rate (claims of an answer not supported by the reference /
claims), the refusal rate on 10 held-out out-of-domain questions (never trained on), and the test loss per
assistant token. Without --base-model the model is a tiny randomly initialised Qwen2 (hidden 64, 2 layers) with
the real Qwen tokenizer: its quality numbers only show that the pipeline runs, not what a real model reaches.
With --base-model (a catalog name or a local folder; never downloaded) the product's checks run (`open_base`)
and training and generation run on the GPU when torch sees one.

The defaults take about 4 minutes on a busy 2-core CPU (the 151k-token vocabulary makes even the tiny model's
steps seconds long); on a GPU with a real checkpoint raise them, e.g. --train-rows 400 --eval-rows 40 --steps 60
--batch-size 8.

    python bench/llm.py [--base-model PATH_OR_NAME] [--datasets law medical] [--train-rows 40] [--eval-rows 8]
                        [--steps 12] [--batch-size 4] [--max-seq-len 384] [--method auto|full|lora]
                        [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "qa"
CACHE = Path.home() / ".cache" / "mofang-bench"
TINY = {"hidden": 64, "layers": 2, "max_positions": 2048}
OUT_OF_DOMAIN = 10  # held-out out-of-domain questions asked for the refusal check
TINY_RATE = 1e-3  # a random model learns nothing visible in a dozen steps at the product's rates
GROUNDING_THRESHOLD = 0.5  # the order's default llm.grounding_threshold

Example = tuple[list[int], list[int]]


@dataclass(frozen=True)
class Case:
    key: str
    path: Path
    system_prompt: str


CASES = {
    "law": Case("law", SHARED / "lawbench" / "3-8.json",
                "你是一名法律咨询助手：先回答用户的问题，再给出对应的法律依据。"),
    "medical": Case("medical", SHARED / "medical_dialogue_internal_gb18030.csv",
                    "你是一名医疗咨询助手：根据患者描述给出就医建议。"),
}


@dataclass
class Split:
    """A dataset's examples: train (with refusal pairs), valid, eval (and its rows), and what was dropped."""

    train: list[Example]
    valid: list[Example]
    eval_examples: list[Example]
    eval_rows: pd.DataFrame
    too_long: int
    near_copies: int
    refusals: int
    ood: list[str]


@dataclass
class Throughput:
    system: str
    steps: int
    seconds: float
    tokens: int
    padded: int
    threads: int
    load: float
    step_ends: list[float]  # perf_counter() at the end of each optimizer step
    note: str = ""

    @property
    def median_step_s(self) -> float:
        """Median wall of the steps after the first (what the loop costs without its set-up and epoch ends)."""
        gaps = sorted(b - a for a, b in zip(self.step_ends, self.step_ends[1:], strict=False))
        return gaps[len(gaps) // 2] if gaps else float("nan")

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def padding_share(self) -> float:
        return 1 - self.tokens / self.padded if self.padded else 0.0


# ---- data ------------------------------------------------------------------------------------------------------

def read_instructions(case: Case) -> pd.DataFrame:
    """The dataset as canonical instruction rows, read by the product's readers."""
    from mofang.tasks.llm.instructions import to_instructions

    if case.key == "law":
        from mofang.data.jsontables import parse_json

        frame, _ = parse_json(case.path.read_text(encoding="utf-8"), "json", str(case.path))
        rows, _ = to_instructions(frame, label=str(case.path), fmt="lawbench")
    else:
        from mofang.data import read_source
        from mofang.orders import Source

        frame = read_source(Source.model_validate({"path": str(case.path)}))
        rows, _ = to_instructions(frame, label=str(case.path), fmt="qa", prompt_column="ask",
                                  response_column="answer", template="科室：{department}\n{title}\n{ask}")
    return rows.reset_index(drop=True)


def split_case(case: Case, base: Any, args: argparse.Namespace, refusal_message: str) -> Split:
    """Shuffle once, tokenise in that order, drop conversations over max-seq-len, then eval / valid / train."""
    from mofang.models.transformer.chat_templates import supervised_ids
    from mofang.tasks.llm.instructions import decontaminate, refusal_pairs, split_out_of_domain
    from mofang.tasks.llm.models.conversations import conversation, conversations

    rows = read_instructions(case)
    order = list(range(len(rows)))
    random.Random(args.seed).shuffle(order)
    wanted = args.eval_rows + args.valid_rows + args.train_rows
    kept: list[tuple[int, Example]] = []
    too_long = 0
    for index in order:
        if len(kept) == wanted:
            break
        example = supervised_ids(base.tokenizer, conversation(rows.iloc[index], args.system or case.system_prompt),
                                 base.template)
        if len(example[0]) > args.max_seq_len:
            too_long += 1
        else:
            kept.append((index, example))
    if len(kept) <= args.eval_rows + 1:
        sys.exit(f"{case.path}: only {len(kept)} conversations fit --max-seq-len {args.max_seq_len}; raise it")
    held, valid, train = (kept[:args.eval_rows], kept[args.eval_rows:args.eval_rows + args.valid_rows],
                          kept[args.eval_rows + args.valid_rows:])
    eval_rows = rows.iloc[[i for i, _ in held]].reset_index(drop=True)
    train_rows = rows.iloc[[i for i, _ in train]].reset_index(drop=True).assign(__position__=range(len(train)))
    clean, found = decontaminate(train_rows, eval_rows)
    near = int(found.get("exact", 0)) + int(found.get("near", 0))
    train_examples = [train[p][1] for p in clean["__position__"]]
    train_ood, eval_ood = split_out_of_domain(args.seed)
    pairs = refusal_pairs(refusal_message, count=args.refusal_pairs, seed=args.seed, exclude=eval_ood)
    system = args.system or case.system_prompt
    refusals = [supervised_ids(base.tokenizer, m, base.template) for m in conversations(pairs, system)]
    return Split(train=train_examples + refusals, valid=[ex for _, ex in valid], eval_examples=[ex for _, ex in held],
                 eval_rows=eval_rows, too_long=too_long, near_copies=near, refusals=len(refusals),
                 ood=eval_ood[:OUT_OF_DOMAIN])


# ---- the base model --------------------------------------------------------------------------------------------

def tiny_base() -> Path:
    """A random tiny Qwen2 with the real Qwen tokenizer, built once under ~/.cache/mofang-bench."""
    from mofang.models.transformer.tiny import tiny_qwen2_checkpoint
    from mofang.models.transformer.tokenizers import cached_qwen_tokenizer

    tokenizer = cached_qwen_tokenizer(CACHE / "tokenizers")
    folder = CACHE / f"tiny-qwen2-h{TINY['hidden']}-l{TINY['layers']}-p{TINY['max_positions']}-{tokenizer.name}"
    if not (folder / "model.safetensors").is_file():
        staging = Path(tempfile.mkdtemp(prefix=".tiny-", dir=CACHE))
        tiny_qwen2_checkpoint(staging, hidden=TINY["hidden"], layers=TINY["layers"], tokenizer_folder=tokenizer,
                              max_positions=TINY["max_positions"])
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    return folder


# ---- throughput ------------------------------------------------------------------------------------------------

def planned_steps(train: Sequence[Example], batch_size: int, steps: int) -> tuple[int, int]:
    """(epochs, steps) for Mofang: whole epochs, as close to `steps` as they come."""
    per_epoch = math.ceil(len(train) / batch_size)
    epochs = max(1, round(steps / per_epoch))
    return epochs, per_epoch * epochs


def step_clock() -> Any:
    """A TrainerCallback noting in `.ends` when each optimizer step ends."""
    import transformers

    class Clock(transformers.TrainerCallback):
        def __init__(self) -> None:
            self.ends: list[float] = []

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.ends.append(time.perf_counter())

    return Clock()


def run_peer(base: Any, train: Sequence[Example], method: str, rank: int, rate: float, steps: int,
             args: argparse.Namespace, work: Path) -> Throughput:
    """transformers.Trainer with its default random sampler and DataCollatorForSeq2Seq, `steps` optimizer steps."""
    import torch
    import transformers

    from mofang.models.transformer.runtime import quiet_transformers, torch_threads
    from mofang.tasks.llm.models.sft import WARMUP, device_of, load_causal_lm, with_lora

    device = device_of(torch)
    load = os.getloadavg()[0]
    clock = step_clock()
    with torch_threads(args.threads):
        threads = torch.get_num_threads()
        model = load_causal_lm(base.path, device)
        if method == "lora":
            model = with_lora(model, rank, args.seed)
        pad_collator = transformers.DataCollatorForSeq2Seq(base.tokenizer, padding="longest", label_pad_token_id=-100)
        counted = {"tokens": 0, "padded": 0, "batches": 0}

        def collator(features: list[dict[str, Any]]) -> dict[str, Any]:
            batch = pad_collator(features)
            counted["tokens"] += int(batch["attention_mask"].sum())
            counted["padded"] += int(batch["attention_mask"].numel())
            counted["batches"] += 1
            return batch

        dataset = [{"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels} for ids, labels in train]
        settings = transformers.TrainingArguments(
            output_dir=str(work / "peer"), max_steps=steps, per_device_train_batch_size=args.batch_size,
            learning_rate=rate, weight_decay=0.0, max_grad_norm=1.0, lr_scheduler_type="cosine",
            warmup_steps=max(1, int(WARMUP * steps)), eval_strategy="no", save_strategy="no", logging_strategy="no",
            report_to=[], disable_tqdm=True, seed=args.seed, remove_unused_columns=False,
            bf16=device == "cuda", use_cpu=device == "cpu", dataloader_pin_memory=device == "cuda")
        with quiet_transformers():
            trainer = transformers.Trainer(model=model, args=settings, train_dataset=dataset, data_collator=collator,
                                           callbacks=[clock])
            started = time.perf_counter()
            with contextlib.redirect_stdout(sys.stderr):  # its closing metrics line is no part of the tables
                trainer.train()
            seconds = time.perf_counter() - started
    note = f"optimizer {getattr(settings.optim, 'value', settings.optim)}"
    if counted["batches"] != steps:
        note += f"; {counted['batches']} batches collated"
    del trainer, model
    gc.collect()  # the peer's model and optimizer state leave the device before Mofang's run
    if device == "cuda":
        torch.cuda.empty_cache()
    return Throughput("HF Trainer", steps, seconds, counted["tokens"], counted["padded"], threads, load,
                      clock.ends, note)


def run_mofang(base: Any, split: Split, method: str, rank: int, rate: float, epochs: int,
               args: argparse.Namespace, work: Path) -> tuple[Throughput, Any]:
    """Mofang's train_sft for `epochs` epochs (length-grouped batches); its SFTResult too."""
    import torch

    from mofang.tasks.llm.models.sft import TrialConfig, train_sft

    load = os.getloadavg()[0]
    threads, ends = [0], []

    def on_step(step: int, planned: int, loss: float) -> None:
        ends.append(time.perf_counter())
        threads[0] = torch.get_num_threads()

    config = TrialConfig(method, rank if method == "lora" else None, rate, epochs)
    result = train_sft(base.path, split.train, split.valid, config, folder=work / "mofang", pad_id=pad_id(base),
                       batch_size=args.batch_size, deadline=math.inf, seed=args.seed, on_step=on_step,
                       tokenizer=base.tokenizer, threads=args.threads)
    note = f"{result.epochs_done:g} epochs, best valid loss at epoch {result.best_epoch:g}"
    return Throughput("Mofang train_sft", result.steps, result.seconds, result.tokens, result.padded_tokens,
                      threads[0], load, ends, note), result


def pad_id(base: Any) -> int:
    from mofang.models.transformer.chat_templates import end_of_turn_ids

    tokenizer = base.tokenizer
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else end_of_turn_ids(tokenizer,
                                                                                             base.template)[0]


# ---- evaluation ------------------------------------------------------------------------------------------------

def evaluate(chat: Any, split: Split, system: str, args: argparse.Namespace, refusal_message: str) -> dict[str, float]:
    """Generation metrics on the eval rows, the refusal rate on held-out out-of-domain questions, the test loss."""
    from mofang.core.metrics.generation import is_refusal, score_generations
    from mofang.tasks.llm.models.conversations import conversations
    from mofang.tasks.llm.models.sft import validation_loss

    convs = conversations(split.eval_rows, system, with_response=False)
    replies = chat.generate_batch(convs, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    references = [str(r) for r in split.eval_rows["response"]]
    metrics = score_generations([r.text for r in replies], references, sources=[None] * len(replies),
                                threshold=GROUNDING_THRESHOLD)
    head = [{"role": "system", "content": system}] if system else []
    refused = chat.generate_batch([[*head, {"role": "user", "content": q}] for q in split.ood],
                                  max_new_tokens=min(args.max_new_tokens, 64), batch_size=args.batch_size)
    metrics["refusal_rate"] = sum(is_refusal(r.text, refusal_message) for r in refused) / max(1, len(refused))
    metrics["test_loss"] = validation_loss(chat.model, split.eval_examples, args.batch_size, chat.pad_id, chat.device)
    return metrics


def tuned_chat(base: Any, result: Any, method: str, work: Path) -> tuple[Any, str]:
    """The trained weights as a ChatModel (a LoRA adapter merged into the base first), and what they are."""
    from mofang.tasks.llm.models.chat import ChatModel
    from mofang.tasks.llm.models.sft import merge_adapter

    folder = Path(result.folder)
    if result.best_epoch == 0:
        what = "best = the base (validation loss never improved)"
    else:
        what = f"best weights of epoch {result.best_epoch:g}"
    if method == "lora":
        folder = merge_adapter(base.path, folder, work / "merged", base.tokenizer)
        what += ", LoRA merged"
    return ChatModel.load(folder, chat_template=base.template), what


# ---- output ----------------------------------------------------------------------------------------------------

def machine() -> str:
    import torch

    from mofang.models.transformer.runtime import available_cores

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return f"{available_cores()} cores, torch {torch.__version__}, device {device}"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "—"


def log(text: str) -> None:
    print(f"  [{datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def run_case(case: Case, base: Any, method: str, rate: float, args: argparse.Namespace,
             refusal_message: str) -> tuple[list[Any], list[list[Any]], list[list[Any]]]:
    """One dataset: the split, the peer's and Mofang's training runs, base and tuned evaluated (table rows)."""
    from mofang.tasks.llm.models.chat import ChatModel

    log(f"{case.key}: reading and tokenising {case.path.name}")
    split = split_case(case, base, args, refusal_message)
    epochs, steps = planned_steps(split.train, args.batch_size, args.steps)
    data = [case.key, len(split.train), split.refusals, len(split.valid), len(split.eval_examples), split.too_long,
            split.near_copies, epochs, steps]
    speed, quality = [], []
    system = args.system or case.system_prompt
    with tempfile.TemporaryDirectory(prefix="mofang-bench-llm-") as tmp:
        work = Path(tmp)
        log(f"{case.key}: HF Trainer, {steps} steps")
        peer = run_peer(base, split.train, method, args.lora_rank, rate, steps, args, work)
        log(f"{case.key}: Mofang train_sft, {epochs} epochs ({steps} steps)")
        ours, result = run_mofang(base, split, method, args.lora_rank, rate, epochs, args, work)
        for run in (peer, ours):
            speed.append([case.key, run.system, run.steps, f"{run.seconds:.1f}", f"{run.steps_per_s:.3f}",
                          f"{run.tokens_per_s:,.0f}", f"{run.padding_share:.1%}", f"{run.median_step_s:.2f}",
                          ratio(run.steps_per_s, peer.steps_per_s), ratio(run.tokens_per_s, peer.tokens_per_s),
                          f"{run.threads} / {run.load:.1f}", run.note])
        for name in ("base", "tuned"):
            log(f"{case.key}: evaluating {name}")
            if name == "base":
                chat, what = ChatModel.load(base.path, chat_template=base.template), "as is"
            else:
                chat, what = tuned_chat(base, result, method, work)
            m = evaluate(chat, split, system, args, refusal_message)
            quality.append([case.key, f"{name} ({what})", f"{m['rouge_l']:.4f}", f"{m['bleu']:.4f}", f"{m['f1']:.4f}",
                            f"{m['hallucination_rate']:.3f}", f"{m['refusal_rate']:.2f}", f"{m['test_loss']:.4f}"])
            del chat
    return data, speed, quality


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-model", help="catalog name or local checkpoint folder (default: a tiny random Qwen2)")
    parser.add_argument("--datasets", nargs="+", default=["law", "medical"], choices=sorted(CASES))
    parser.add_argument("--train-rows", type=int, default=40)
    parser.add_argument("--valid-rows", type=int, default=4, help="Mofang's validation rows (best epoch)")
    parser.add_argument("--eval-rows", type=int, default=8)
    parser.add_argument("--refusal-pairs", type=int, default=8, help="out-of-domain refusal pairs added to train")
    parser.add_argument("--steps", type=int, default=12, help="optimizer steps (Mofang runs whole epochs: nearest)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-seq-len", type=int, default=384)
    parser.add_argument("--method", choices=("auto", "full", "lora"), default="auto",
                        help="auto: full tuning under 50M parameters, else LoRA (as the product)")
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, help="default: the product's first rate for the method "
                        f"with --base-model, {TINY_RATE:g} for the tiny random model (so that 12 steps show)")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--system", help="system prompt for every set (default: one per set)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="CPU threads of both loops (default: every core)")
    args = parser.parse_args()
    if args.threads is None:
        from mofang.models.transformer.runtime import available_cores

        args.threads = available_cores()
    missing = [str(CASES[k].path) for k in args.datasets if not CASES[k].path.is_file()]
    if missing:
        print(f"dataset file(s) missing: {', '.join(missing)} (the shared datasets belong in {SHARED.parent})",
              file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    from mofang.core.errors import MofangError
    from mofang.orders.schema import LLMSettings
    from mofang.tasks.llm.models.checkpoint import choose_method, open_base
    from mofang.tasks.llm.models.workshop import DEFAULT_RATES

    refusal_message = LLMSettings().refusal_message
    try:
        base = open_base(args.base_model or str(tiny_base()), max_seq_len=args.max_seq_len)
    except MofangError as exc:
        print(f"base model: {exc}", file=sys.stderr)
        return 2
    method, _ = choose_method(args.method, base.parameters)
    rate = args.learning_rate or (DEFAULT_RATES[method][0] if args.base_model else TINY_RATE)
    model_note = (f"{base.name}: {base.architecture}, {base.parameters / 1e6:.1f}M parameters" if args.base_model
                  else f"tiny random Qwen2 (hidden {TINY['hidden']}, {TINY['layers']} layers, "
                       f"{base.parameters / 1e6:.1f}M parameters, real Qwen tokenizer): quality numbers only show "
                       "the pipeline, not a real model's quality")
    data_rows, speed_rows, eval_rows = [], [], []
    for key in args.datasets:
        data, speed, quality = run_case(CASES[key], base, method, rate, args, refusal_message)
        data_rows.append(data)
        speed_rows += speed
        eval_rows += quality
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {machine()}"
    settings = (f"{method} (rank {args.lora_rank}) " if method == "lora" else f"{method} ") + \
        f"lr {rate:g}, batch {args.batch_size}, max-seq-len {args.max_seq_len}, seed {args.seed}"
    print(f"\nSFT data · {stamp}\nmodel: {model_note}\n")
    table(["dataset", "train (incl. refusal pairs)", "refusal pairs", "valid", "eval", "dropped > max-seq-len",
           "dropped near copies of eval", "Mofang epochs", "steps"], data_rows)
    print(f"\nSFT throughput · Mofang train_sft vs HF Trainer (peer) · same examples, steps, {settings} · {stamp}\n")
    table(["dataset", "system", "steps", "seconds", "steps/s", "tokens/s", "padding share", "median step s",
           "steps/s ratio", "tokens/s ratio", "threads / load", "notes"], speed_rows)
    print(f"\nBase vs tuned · greedy, at most {args.max_new_tokens} new tokens · {OUT_OF_DOMAIN} held-out "
          f"out-of-domain questions · grounding threshold {GROUNDING_THRESHOLD} · {stamp}\nmodel: {model_note}\n")
    table(["dataset", "model", "ROUGE-L", "BLEU", "F1", "hallucination rate", "refusal rate (OOD)", "test loss"],
          eval_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
