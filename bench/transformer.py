"""Benchmark: fine-tuning the bundled MiniLM (full and LoRA) next to TF-IDF + logistic regression.

English movie-review polarity (Pang & Lee v2.0, 2,000 reviews): a fixed split (seed 0) into 400 test
reviews, 160 valid and a training pool, of which `--train-rows` are used. The transformer sees
`--seq-len` tokens of each review (by default a quarter from its start, the rest from its end);
TF-IDF + LR is run on the whole review and on the same token window, so the table separates "less
text" from "a different model". Reports accuracy, macro F1 and samples/s
for training and inference, with ratios to TF-IDF (full text). Then the MiniLM tokenizer's coverage on
the Chinese review sets, showing the transformer family would skip it there and why.

    python bench/transformer.py [--train-rows 400] [--seq-len 64] [--minutes 4] [--lora-rank 8] [--keep head]
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "text-classification"
POLARITY = SHARED / "review_polarity_en.tar.gz"
CHINESE_SETS = (("online_shopping_10_cats.csv", "review"), ("waimai_10k.csv", "review"))


@dataclass
class Row:
    system: str
    text: str
    train_rows: int
    accuracy: float
    f1_macro: float
    train_s: float
    train_per_s: float
    infer_per_s: float
    note: str = ""


def load_polarity() -> pd.DataFrame:
    """One row per review file: text and label (pos/neg), in sorted file order."""
    if not POLARITY.exists():
        sys.exit(f"missing {POLARITY}: the shared datasets are not on this machine")
    rows = []
    with tarfile.open(POLARITY) as archive:
        for member in sorted((m for m in archive.getmembers() if m.isfile() and m.name.endswith(".txt")),
                             key=lambda m: m.name):
            label = Path(member.name).parent.name
            if label in ("pos", "neg"):
                rows.append({"text": archive.extractfile(member).read().decode("utf-8", "replace"), "label": label})
    return pd.DataFrame(rows)


def fixed_split(df: pd.DataFrame, train_rows: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(0).permutation(len(df))
    test, valid, pool = df.iloc[order[:400]], df.iloc[order[400:560]], df.iloc[order[560:]]
    return pool.head(train_rows), valid, test


def window(texts: pd.Series, tokenizer, seq_len: int, keep: str) -> list[str]:
    """Each text cut to what the transformer sees (seq_len word pieces, `keep`), as text again."""
    from mofang.models.transformer.classifier import encode_window

    return [tokenizer.decode(row, skip_special_tokens=True) for row in encode_window(tokenizer, list(texts),
                                                                                      seq_len, keep)]


def tfidf_run(name: str, train_x: list[str], train_y: np.ndarray, test_x: list[str], test_y: np.ndarray,
              text: str) -> Row:
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    model = LogisticRegression(C=10.0, max_iter=2000).fit(vectorizer.fit_transform(train_x), train_y)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    predicted = model.predict(vectorizer.transform(test_x))
    infer_s = time.perf_counter() - started
    return Row(name, text, len(train_x), accuracy_score(test_y, predicted),
               f1_score(test_y, predicted, average="macro"), train_s, len(train_x) / train_s, len(test_x) / infer_s)


def transformer_run(name: str, checkpoint: Path, train: pd.DataFrame, valid: pd.DataFrame, test: pd.DataFrame,
                    args: argparse.Namespace, seconds: float, lora_rank: int) -> Row:
    from mofang.models.transformer.classifier import TransformerClassifier

    classes = np.array(["neg", "pos"])
    codes = {c: i for i, c in enumerate(classes)}
    model = TransformerClassifier(checkpoint, max_length=args.seq_len, keep=args.keep, epochs=args.epochs,
                                  batch_size=16, learning_rate=args.lora_lr if lora_rank else args.lr,
                                  lora_rank=lora_rank, seed=0)
    started = time.perf_counter()
    model.fit(train.text.to_numpy(object), train.label.map(codes).to_numpy(), valid.text.to_numpy(object),
              valid.label.map(codes).to_numpy(), deadline=time.monotonic() + seconds)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    predicted = classes[model.predict(test.text.to_numpy(object))]
    infer_s = time.perf_counter() - started
    stats = model.stats_
    note = (f"{stats['epochs_run']:g} epochs, {stats['steps']} steps ({stats['stopped']}), best step "
            f"{stats['best_step']}, {stats['threads']} threads")
    return Row(name, f"{args.keep} {args.seq_len} tokens", len(train), accuracy_score(test.label, predicted),
               f1_score(test.label, predicted, average="macro"), train_s, stats["train_samples_per_s"] or 0.0,
               len(test) / infer_s, note)


def coverage_lines(tokenizer, rows: int) -> list[str]:
    from mofang.models.transformer.coverage import measure_coverage

    lines = []
    for file, column in CHINESE_SETS:
        path = SHARED / file
        if not path.exists():
            lines.append(f"| {file} | — | — | missing on this machine |")
            continue
        texts = pd.read_csv(path, encoding="utf-8-sig")[column].dropna().astype(str)
        started = time.perf_counter()
        coverage = measure_coverage(tokenizer, texts.to_numpy(object), model="minilm-l6", rows=rows)
        seconds = time.perf_counter() - started
        verdict = coverage.skip_reason() if not coverage.readable() else "readable"
        lines.append(f"| {file} ({column}) | {coverage.ratio:.1%} | {seconds:.2f} | {verdict} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=400, help="training reviews (at most 1,440)")
    parser.add_argument("--seq-len", type=int, default=64, help="tokens per review the transformer sees")
    parser.add_argument("--minutes", type=float, default=4.0, help="time for both fine-tunings together")
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--lora-rank", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4, help="learning rate of full fine-tuning")
    parser.add_argument("--lora-lr", type=float, default=3e-3, help="learning rate of LoRA")
    parser.add_argument("--keep", choices=("head", "tail", "head+tail"), default="head+tail",
                        help="which tokens of a long review the transformer sees")
    parser.add_argument("--coverage-rows", type=int, default=500)
    args = parser.parse_args()

    from mofang.models.transformer.catalog import resolve
    from mofang.models.transformer.runtime import load_tokenizer

    checkpoint = resolve("minilm-l6")
    tokenizer = load_tokenizer(checkpoint)
    train, valid, test = fixed_split(load_polarity(), args.train_rows)
    y_train, y_test = train.label.to_numpy(), test.label.to_numpy()
    rows = [tfidf_run("tfidf+lr", list(train.text), y_train, list(test.text), y_test, "whole review"),
            tfidf_run("tfidf+lr", window(train.text, tokenizer, args.seq_len, args.keep), y_train,
                      window(test.text, tokenizer, args.seq_len, args.keep), y_test,
                      f"{args.keep} {args.seq_len} tokens")]
    each = args.minutes * 60 / 2
    rows.append(transformer_run("minilm-l6 full", checkpoint, train, valid, test, args, each, 0))
    rows.append(transformer_run(f"minilm-l6 lora r{args.lora_rank}", checkpoint, train, valid, test, args, each,
                                args.lora_rank))

    peer = rows[0]
    print(f"\nReview polarity (en), {len(train)} train / {len(valid)} valid / {len(test)} test, seq-len "
          f"{args.seq_len}, {args.minutes:g} min for the fine-tunings, {os.cpu_count()} cores, {date.today()}\n")
    print("| system | text | accuracy | macro F1 | Δ F1 vs tfidf | train s | train samples/s | "
          "infer samples/s | infer ratio | notes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.system} | {r.text} | {r.accuracy:.3f} | {r.f1_macro:.3f} | {r.f1_macro - peer.f1_macro:+.3f} | "
              f"{r.train_s:.1f} | {r.train_per_s:,.0f} | {r.infer_per_s:,.0f} | "
              f"{r.infer_per_s / peer.infer_per_s:.4f}× | {r.note} |")
    print(f"\nMiniLM tokenizer coverage on Chinese reviews (sample of {args.coverage_rows} rows):\n")
    print("| set | unreadable tokens | seconds | transformer family |")
    print("|---|---|---|---|")
    for line in coverage_lines(tokenizer, args.coverage_rows):
        print(line)


if __name__ == "__main__":
    main()
