"""Benchmark: retrieval QA (BM25, dense, hybrid, no-answer) on the shared medical dialogue set.

Data: `qa/medical_dialogue_internal_gb18030.csv` (GB18030; department, title, ask, answer), read with
Mofang's own connector (encoding detected), exact duplicate rows dropped. Rows are split once (seed 0)
into train / valid / test (70 / 15 / 15).

The knowledge base holds every (question, answer) pair; a held-out row is asked with one phrasing of its
question and its gold is its own answer (any row with the same answer text counts), so the query never
meets its own words in the index:

- `title → ask+answer` (default, the realistic FAQ setting): users type short questions like the titles;
  each passage is the patient's long question (`ask`) plus the answer;
- `ask → title+answer`: a user writes a long message, the base holds curated short questions + answers.

Valid questions choose the ranking (BM25, LSA, MiniLM, or BM25 fused with a dense retriever: RRF /
weighted min-max / weighted raw, weight 0…1) by MRR and calibrate the no-answer threshold; the table
reports the test split. Out-of-domain questions for the no-answer threshold are the titles of the
government message board set (`qa/gov_message_replies_taidi2020.xlsx`), half for calibration, half for
test; "+ held-out" also counts each test question asked with its own answer removed from the base as
unanswerable (harder: a similar question with a different answer usually remains).

MiniLM (English) reads Chinese mostly as [UNK] and is skipped above 10% unknown tokens; `--minilm-anyway`
indexes with it regardless, to measure how poor it is.

    python bench/retrieval.py [--settings title ask] [--minilm-anyway] [--rows N] [--target-precision 0.9]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "qa"
MEDICAL = SHARED / "medical_dialogue_internal_gb18030.csv"
GOV = SHARED / "gov_message_replies_taidi2020.xlsx"
SETTINGS = {"title": ("title", ("ask",), "title → ask+answer"), "ask": ("ask", ("title",), "ask → title+answer")}


def read(path: Path) -> pd.DataFrame:
    from mofang.data.connectors import read_source
    from mofang.orders.schema import Source

    frame = read_source(Source(path=str(path)))
    print(f"  read {path.name}: {len(frame)} rows, {frame.attrs['source'].get('encoding', '-')}", file=sys.stderr)
    return frame


def split(frame: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(frame))
    a, b = int(0.70 * len(frame)), int(0.85 * len(frame))
    return frame.iloc[order[:a]], frame.iloc[order[a:b]], frame.iloc[order[b:]]


def run_setting(key: str, data: pd.DataFrame, ood: list[str], args: argparse.Namespace) -> dict:
    """Build, tune and test one setting; the rows of the three tables."""
    from mofang.tasks.retrieval.models import QAColumns, RetrievalModel

    query, questions, label = SETTINGS[key]
    train, valid, test = split(data)
    columns = QAColumns(questions=questions, answer="answer", query=query, sources=("department",))
    ood_valid, ood_test = ood[: len(ood) // 2], ood[len(ood) // 2:]
    model = RetrievalModel.from_pairs(train, columns, held_out=[valid, test],
                                      max_unk_ratio=1.0 if args.minilm_anyway else 0.10)
    for reason in model.skipped.values():
        print(f"  [{label}] {reason}", file=sys.stderr)
    model.tune(valid, ood_valid, target_precision=args.target_precision, mask_self=False, prune=False)
    print(f"  [{label}] {model.reasons[0]}", file=sys.stderr)

    test_questions = test[query].tolist()
    variants = [model.variant(name) for name in model.retrievers_]
    if model.fusion_ is not None:
        variants.append(model)
    rankings = []
    for variant in variants:
        metrics = variant.evaluate(test, mask_self=False)
        qps = _qps(variant, test_questions)
        build = sum(model.build_times[n] for n in (variant.first_, variant.second_) if n)
        rankings.append((variant.family, metrics, build, qps))
    rankings += forced_hybrids(model, valid, test)
    rankings += [(f"dense-{name}", reason, 0.0, 0.0) for name, reason in model.skipped.items()]

    # no answer: the threshold calibrated on OOD questions only, then on OOD + held-out answers
    no_answer = [("OOD", model.no_answer_, model.evaluate(test, ood_test, mask_self=False))]
    strict = model.variant(model.first_, model.second_, model.fusion_)
    strict.tune(valid, ood_valid, target_precision=args.target_precision, mask_self=True, prune=False)
    no_answer.append(("OOD + held-out", strict.no_answer_, strict.evaluate(test, ood_test, mask_self=True)))

    delivered = model.variant(model.first_, model.second_, model.fusion_)
    keep = ("bm25", model.first_, model.second_)
    delivered.retrievers_ = {n: r for n, r in model.retrievers_.items() if n in keep}
    delivered.no_answer_ = model.no_answer_
    with tempfile.TemporaryDirectory() as tmp:
        size_mb = delivered.size_mb(delivered.save(Path(tmp) / "model.joblib"))
    latency = delivered.measure_latency(test_questions, n=300)
    return {"label": label, "rankings": rankings, "no_answer": no_answer, "family": model.family,
            "size_mb": size_mb, "latency": latency, "rows": (len(model.kb), len(train), len(valid), len(test))}


def forced_hybrids(model, valid: pd.DataFrame, test: pd.DataFrame) -> list[tuple]:
    """Test rows of BM25 fused with each dense retriever at the best validation weight strictly between
    0 and 1, to show what fusion does even when the tuned choice is a single retriever."""
    from mofang.tasks.retrieval.models import tune_fusion
    from mofang.tasks.retrieval.models.metrics import metric_from_ranks, ranks_from_scores

    questions, gold = model.held_out_questions(valid, "validation")
    bm25 = model.retrievers_["bm25"].scores(questions)
    rows = []
    for name in [n for n in model.retrievers_ if n != "bm25"]:
        if model.second_ == name:
            continue  # the tuned model already is this hybrid
        choice = tune_fusion(bm25, model.retrievers_[name].scores(questions),
                             lambda s: metric_from_ranks(ranks_from_scores(s, gold), "mrr"),
                             weights=[round(w, 2) for w in np.linspace(0.1, 0.9, 9)])
        hybrid = model.variant("bm25", name, choice.fusion)
        label = f"{hybrid.family} w={choice.fusion.weight:.1f} (forced)"
        rows.append((label, hybrid.evaluate(test, mask_self=False), sum(model.build_times[n] for n in ("bm25", name)),
                     _qps(hybrid, test[model.columns.query_column].tolist())))
    return rows


def _qps(model, questions: list[str]) -> float:
    started = time.perf_counter()
    model.search(questions, 10)
    return len(questions) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=["title", "ask"], choices=sorted(SETTINGS))
    parser.add_argument("--minilm-anyway", action="store_true", help="index with MiniLM despite its [UNK] ratio")
    parser.add_argument("--rows", type=int, default=0, help="use a seeded sample of this many unique rows "
                        "(0: all); MiniLM on CPU needs a few minutes per thousand passages")
    parser.add_argument("--target-precision", type=float, default=0.9, help="no-answer precision to calibrate for")
    args = parser.parse_args()
    if not MEDICAL.exists():
        print(f"shared dataset not found at {MEDICAL}", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    raw = read(MEDICAL)
    data = raw.drop_duplicates().reset_index(drop=True)
    print(f"  dropped {len(raw) - len(data)} exact duplicate rows", file=sys.stderr)
    if 0 < args.rows < len(data):
        data = data.sample(args.rows, random_state=0).reset_index(drop=True)
    ood = read(GOV)["留言主题"].dropna().astype(str).tolist() if GOV.exists() else []
    ood = [ood[i] for i in np.random.default_rng(0).permutation(len(ood))]
    results = [run_setting(key, data, ood, args) for key in args.settings]

    print(f"\nRetrieval QA · {MEDICAL.name} · {len(data)} unique rows · test 15% (seed 0) · {date.today()}\n")
    print("| setting | ranking | recall@1 | recall@5 | recall@10 | MRR | build s | queries/s |")
    print("|---|---|---|---|---|---|---|---|")
    for result in results:
        for family, m, build, qps in result["rankings"]:
            if isinstance(m, str):
                print(f"| {result['label']} | {family} | {m} | | | | | |")
                continue
            print(f"| {result['label']} | {family} | {m['recall_at_1']:.4f} | {m['recall_at_5']:.4f} | "
                  f"{m['recall_at_10']:.4f} | {m['mrr']:.4f} | {build:.1f} | {qps:.0f} |")
    print(f"\nNo answer, chosen ranking: threshold calibrated on valid for no-answer precision "
          f"{args.target_precision:.2f}; tested on the answerable test questions + {len(ood) - len(ood) // 2} "
          "out-of-domain titles [+ each test question with its own answer removed]\n")
    print("| setting | unanswerable | threshold | valid precision / recall | test precision / recall |")
    print("|---|---|---|---|---|")
    for result in results:
        for what, t, m in result["no_answer"]:
            cut = f"{t.threshold:.4f}" if t.threshold is not None else "none"
            print(f"| {result['label']} | {what} | {cut} | {t.precision:.3f} / {t.recall:.3f} | "
                  f"{m['no_answer_precision']:.3f} / {m['no_answer_recall']:.3f} |")
    print("\n| setting | chosen | passages (train/valid/test rows) | saved MB | ask p50 / p95 ms |")
    print("|---|---|---|---|---|")
    for result in results:
        n_kb, n_train, n_valid, n_test = result["rows"]
        print(f"| {result['label']} | {result['family']} | {n_kb} ({n_train}/{n_valid}/{n_test}) | "
              f"{result['size_mb']:.1f} | {result['latency']['p50_ms']:.2f} / {result['latency']['p95_ms']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
