"""Benchmark: a text-cleaning recipe in Mofang vs Data-Juicer on ~1M short Chinese texts with planted duplicates.

Texts come from the shared waimai_10k and online_shopping_10_cats reviews: each base document joins two distinct
review pieces (8–40 chars); 40% of the bases get 1+ perturbed copies (seeded: whitespace, full-width, punctuation
changes, and 0–2 character insertions/deletions/substitutions), so every near-duplicate cluster is known. Emails
and Chinese mobile numbers are planted into 5% of the bases. The recipe, the same in both systems, reads a JSONL
file and writes the result: normalize whitespace and width → exact dedup → MinHash near-dedup (character 3-grams,
Jaccard 0.8, whitespace and punctuation ignored) → mask emails and mobile numbers.

Duplicate removal is scored against the planted clusters: a cluster of k rows holds k−1 redundant rows; a removed
row is correct when its cluster still had more than one row left. precision = correct removals / removals,
recall = correct removals / redundant rows.

    .venv/bin/python bench/data.py [--rows 1000000] [--dj-rows N] [--skip-dj]

Data-Juicer runs from /work/main/.venv-dj (py-data-juicer + CPU torch) through its Python API with np=2.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets" / "text-classification"
DJ_PYTHON = ROOT / ".venv-dj" / "bin" / "python"
EMAIL = r"[A-Za-z0-9.\-+_]+@[a-z0-9.\-+_]+\.[a-z]+"
MOBILE = r"1[3-9]\d{9}"
NGRAM, THRESHOLD = 3, 0.8  # 3-grams: Mofang's own choice for short texts, given to both
FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}
PUNCT_SWAP = {"，": ",", ",": "，", "。": ".", "！": "!", "!": "！", "？": "?", "?": "？"}
FILLERS = "的了是在有和就不人都也很这好吃"


def review_pieces() -> list[str]:
    """Distinct review sentences of 8–40 characters from both review sets."""
    texts = pd.concat([pd.read_csv(SHARED / "waimai_10k.csv", encoding="utf-8-sig").review,
                       pd.read_csv(SHARED / "online_shopping_10_cats.csv", encoding="utf-8-sig").review])
    pieces = texts.dropna().astype(str).str.split(r"[。！？!?\n]+").explode().str.strip()
    pieces = pieces[pieces.str.len().between(8, 40)]
    return sorted(set(pieces))


def perturb(text: str, rng: np.random.Generator) -> str:
    """A copy with format changes and 0–2 character edits."""
    chars = list(text)
    for _ in range(rng.choice(3, p=[0.5, 0.35, 0.15])):
        at = int(rng.integers(0, len(chars)))
        kind = rng.integers(3)
        if kind == 0:
            chars.insert(at, FILLERS[rng.integers(len(FILLERS))])
        elif kind == 1 and len(chars) > 1:
            del chars[at]
        else:
            chars[at] = FILLERS[rng.integers(len(FILLERS))]
    for _ in range(int(rng.integers(1, 4))):
        kind, at = rng.integers(4), int(rng.integers(0, len(chars) + 1))
        if kind == 0:
            chars.insert(at, rng.choice([" ", "  ", "\u3000", "\t"]))
        elif kind == 1:
            chars = [FULLWIDTH.get(c, c) for c in chars]
        elif kind == 2:
            chars = [PUNCT_SWAP.get(c, c) for c in chars]
        else:
            chars.append(rng.choice(["！", "!!", "。", "~"]))
    return "".join(chars)


def build(rows: int, seed: int = 0) -> pd.DataFrame:
    """`rows` texts with a `cluster` column naming each row's base document."""
    rng = np.random.default_rng(seed)
    pieces = review_pieces()
    n_base = int(rows * 0.6)
    first = rng.integers(0, len(pieces), n_base)
    second = (first + rng.integers(1, len(pieces), n_base)) % len(pieces)
    bases = [f"{pieces[a]}，{pieces[b]}" for a, b in zip(first, second, strict=True)]
    for i in np.flatnonzero(rng.random(n_base) < 0.05):
        user = f"user{int(rng.integers(10**6)):06d}"
        extra = f"{user}@{rng.choice(['163.com', 'qq.com', 'gmail.com'])}" if rng.random() < 0.5 \
            else f"1{int(rng.integers(3, 10))}{int(rng.integers(10**9)):09d}"
        bases[i] = f"{bases[i]}，联系{extra}"
    copies = rng.integers(0, int(n_base * 0.4), rows - n_base)
    cluster = np.concatenate([np.arange(n_base), copies])
    texts = bases + [perturb(bases[c], rng) for c in copies]
    order = rng.permutation(rows)
    return pd.DataFrame({"id": np.arange(rows), "text": np.array(texts, dtype=object)[order],
                         "cluster": cluster[order]})


def run_mofang(src: Path, out: Path) -> tuple[float, pa.Table]:
    from mofang.data.dedup.ops import ExactDedup, NearDedup
    from mofang.data.ops import ROW, OpContext
    from mofang.data.text.ops import NormalizeText

    started = time.perf_counter()
    table = pj.read_json(src)
    table = table.append_column(ROW, pa.array(np.arange(1, table.num_rows + 1)))
    ctx = OpContext(kinds={"text": "text"}, id_column="id", seed=0)
    table, _ = NormalizeText({"columns": ["text"]})(table, ctx)
    table, _ = ExactDedup({"columns": ["text"]})(table, ctx)
    table, _ = NearDedup({"columns": ["text"], "ngram": NGRAM, "threshold": THRESHOLD})(table, ctx)
    text = pc.replace_substring_regex(table.column("text"), EMAIL, "[EMAIL]")
    text = pc.replace_substring_regex(text, MOBILE, "[PHONE]")
    table = table.set_column(table.column_names.index("text"), "text", text).drop_columns([ROW])
    import pyarrow.parquet as pq

    pq.write_table(table, out)
    return time.perf_counter() - started, table


DJ_SCRIPT = """
import sys, time
from data_juicer.config import init_configs
from data_juicer.core import DefaultExecutor
cfg = init_configs(args=["--config", sys.argv[1]])
started = time.perf_counter()
DefaultExecutor(cfg).run()
open(sys.argv[2], "w").write(str(time.perf_counter() - started))  # Data-Juicer redirects stdout to its logger
"""


def run_data_juicer(src: Path, work: Path) -> tuple[float, set[int]]:
    started = time.perf_counter()
    out = work / "dj_out.jsonl"
    recipe = {"project_name": "mofang-bench", "dataset_path": str(src), "export_path": str(out), "np": 2,
              "text_keys": "text", "open_tracer": False, "use_cache": False, "work_dir": str(work / "dj"),
              "process": [
                  {"whitespace_normalization_mapper": {}},
                  {"fix_unicode_mapper": {}},
                  {"document_deduplicator": {"lowercase": True}},
                  {"document_minhash_deduplicator": {"tokenization": "character", "window_size": NGRAM,
                                                     "jaccard_threshold": THRESHOLD, "lowercase": True,
                                                     "ignore_pattern": r"[\s\p{P}]"}},
                  {"clean_email_mapper": {"repl": "[EMAIL]"}},
                  {"replace_content_mapper": {"pattern": MOBILE, "repl": "[PHONE]"}}]}
    config = work / "dj.yaml"
    config.write_text(json.dumps(recipe, ensure_ascii=False))  # JSON is YAML
    script = work / "dj_run.py"
    script.write_text(DJ_SCRIPT)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    timing = work / "dj_seconds.txt"
    done = subprocess.run([str(DJ_PYTHON), str(script), str(config), str(timing)], capture_output=True, text=True,
                          env=env)
    if done.returncode or not timing.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataJuicerFailed(f"Data-Juicer failed after {time.perf_counter() - started:.0f}s: {last}")
    kept = {json.loads(line)["id"] for line in out.read_text().splitlines()}
    return float(timing.read_text()), kept


class DataJuicerFailed(RuntimeError):
    """Data-Juicer's run ended without output (e.g. a worker died); reported in the table, not fatal."""


def score(data: pd.DataFrame, kept_ids: set[int] | np.ndarray) -> tuple[float, float]:
    """Row-level precision and recall of duplicate removal against the planted clusters (see the docstring)."""
    kept = data.id.isin(kept_ids)
    per = data.assign(kept=kept).groupby("cluster").agg(size=("id", "size"), kept=("kept", "sum"))
    redundant = int((per["size"] - 1).sum())
    removed = int((per["size"] - per["kept"]).sum())
    correct = int(np.minimum(per["size"] - per["kept"], per["size"] - 1).sum())
    return correct / max(removed, 1), correct / max(redundant, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dj-rows", type=int, default=None, help="rows for Data-Juicer (default: --rows)")
    parser.add_argument("--skip-dj", action="store_true")
    parser.add_argument("--ngram", type=int, default=NGRAM, help="character n-gram size, the same for both")
    args = parser.parse_args()
    globals()["NGRAM"] = args.ngram
    sys.path.insert(0, str(ROOT / "src"))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sizes = {"Mofang": args.rows}
        if not args.skip_dj:
            sizes["Data-Juicer"] = args.dj_rows or args.rows
        datasets = {}
        for n in sorted(set(sizes.values())):
            data = build(n)
            src = work / f"input_{n}.jsonl"
            data[["id", "text"]].to_json(src, orient="records", lines=True, force_ascii=False)
            datasets[n] = (data, src)
            lengths = data.text.str.len()
            print(f"{n:,} rows: {data.cluster.nunique():,} planted clusters, median {lengths.median():.0f} chars")
        for system, n in sizes.items():
            data, src = datasets[n]
            if system == "Mofang":
                seconds, table = run_mofang(src, work / "mofang.parquet")
                kept = table.column("id").to_numpy()
            else:
                try:
                    seconds, kept = run_data_juicer(src, work)
                except DataJuicerFailed as exc:
                    print(exc)
                    continue
            precision, recall = score(data, kept)
            results.append((system, n, seconds, n / seconds, len(kept), precision, recall))
    dj = next((r for r in results if r[0] == "Data-Juicer"), None)
    print(f"\n{'system':<12} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'vs DJ':>6} {'kept':>9} "
          f"{'precision':>9} {'recall':>7}")
    for system, n, seconds, rate, kept, precision, recall in results:
        ratio = f"{rate / dj[3]:.1f}x" if dj else "-"
        print(f"{system:<12} {n:>10,} {seconds:>8.1f} {rate:>9,.0f} {ratio:>6} {kept:>9,} {precision:>9.3f} "
              f"{recall:>7.3f}")
    print("\nprecision/recall: duplicate removal (exact + near) scored per row against the planted clusters; "
          "ratio compares rows/s")


if __name__ == "__main__":
    main()
