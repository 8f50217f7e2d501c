"""Benchmark: Mofang vs FLAML AutoML on shared Chinese text-classification sets, same split, same budget.

online_shopping_10_cats (10 product categories from `review`) and waimai_10k (sentiment `label` of
`review`) are split once (stratified 80/20, seed 0). FewCLUE TNEWS keeps its own split: train_few_all +
dev_few_all to learn from (each system takes its own validation rows out of them), test_public to score;
the text is `sentence`, the class `label_desc`.

Mofang gets the training rows as a CSV order (text + target only, `deployment.refit_on_all_rows: true`:
the gated winner is fitted again on all the order's labelled rows, as FLAML's `retrain_full` refits its own)
and its whole job — data workshop, model workshop, evaluation, packaging, delivery — runs inside the budget;
it is scored through its delivered bundle on the raw test texts (the served path). FLAML gets a character
1–3-gram TF-IDF of the same training texts (fitted outside its budget, the time counted in its wall) and
`time_budget` = the same seconds for its search, optimising macro-F1. Both are scored by macro-F1 on the same
test rows.

    python bench/text.py [--minutes 10] [--datasets shopping waimai tnews]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "text-classification"


@dataclass(frozen=True)
class Case:
    key: str
    name: str
    text: str
    target: str


CASES = {
    "shopping": Case("shopping", "online_shopping_10_cats.csv", "review", "cat"),
    "waimai": Case("waimai", "waimai_10k.csv", "review", "label"),
    "tnews": Case("tnews", "fewclue-tnews", "sentence", "label_desc"),
}


def split(case: Case) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) frames holding just the text and the target, both as strings."""
    if case.key == "tnews":
        def read(name: str) -> pd.DataFrame:
            return pd.read_json(SHARED / case.name / f"{name}.json", lines=True, dtype=False)

        train = pd.concat([read("train_few_all"), read("dev_few_all")], ignore_index=True)
        test = read("test_public")
    else:
        raw = pd.read_csv(SHARED / case.name, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        raw = raw[raw[case.target].str.strip() != ""]
        train, test = train_test_split(raw, test_size=0.2, random_state=0, stratify=raw[case.target])
    keep = [case.text, case.target]
    return (frame[keep].astype(str).reset_index(drop=True) for frame in (train, test))  # type: ignore[return-value]


def macro_f1(y_true: pd.Series, predictions: np.ndarray) -> float:
    return float(f1_score(y_true.astype(str), np.asarray(predictions).astype(str), average="macro"))


def run_mofang(case: Case, train: pd.DataFrame, test: pd.DataFrame, seconds: float, work: Path) -> tuple:
    os.environ["MOFANG_HOME"] = str(work / "home")
    from mofang.line import run
    from mofang.orders import load_order
    from mofang.products import open_bundle
    from mofang.scheduling.admission import admit as submit
    from mofang.store import MetaStore

    train.to_csv(work / "train.csv", index=False)
    order_file = work / "order.yaml"
    order_file.write_text(
        f"id: bench-{case.key}\ntenant: bench\ntask: text-classification\ndata:\n  - path: train.csv\n"
        f"text: {case.text}\ntarget: {case.target}\ndeployment:\n  refit_on_all_rows: true\n"
        f"acceptance: none\nbudget:\n  minutes: {seconds / 60:.4f}\n", encoding="utf-8")
    started = time.perf_counter()
    meta = MetaStore()
    job = run(submit(load_order(order_file), meta, source_file=order_file), meta=meta)
    wall = time.perf_counter() - started
    path = (meta.product_version(f"bench-{case.key}").bundle_path if job.status == "done"
            else job.outcome["bundle"])  # the bench order sets no gate; a rejected job still packaged its model
    bundle = open_bundle(path, "bench", meta)
    answer = bundle.predict_records(test[[case.text]].to_dict(orient="records"))
    meta.dispose()
    return macro_f1(test[case.target], np.asarray(answer["predictions"])), wall, bundle.metadata["family"]


def run_flaml(case: Case, train: pd.DataFrame, test: pd.DataFrame, seconds: float) -> tuple:
    from flaml import AutoML
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import LabelEncoder

    started = time.perf_counter()
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2,
                                 max_features=200_000, dtype=np.float32)
    x_train = vectorizer.fit_transform(train[case.text])
    x_test = vectorizer.transform(test[case.text])
    classes = LabelEncoder().fit(train[case.target])  # xgboost inside FLAML wants 0..k-1 labels
    automl = AutoML()
    automl.fit(x_train, classes.transform(train[case.target]), task="classification", metric="macro_f1",
               time_budget=seconds, seed=0, verbose=0, n_jobs=2)
    predictions = classes.inverse_transform(np.asarray(automl.predict(x_test), dtype=int))
    wall = time.perf_counter() - started
    return macro_f1(test[case.target], predictions), wall, automl.best_estimator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="budget per dataset and system")
    parser.add_argument("--datasets", nargs="+", default=["shopping", "waimai", "tnews"], choices=sorted(CASES))
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"shared datasets not found at {SHARED}", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    seconds = args.minutes * 60
    rows = []
    for key in args.datasets:
        case = CASES[key]
        train, test = split(case)
        with tempfile.TemporaryDirectory() as tmp:
            m_score, m_wall, m_family = run_mofang(case, train, test, seconds, Path(tmp))
        f_score, f_wall, f_family = run_flaml(case, train, test, seconds)
        rows.append((case, len(train), len(test), train[case.target].nunique(), m_score, f_score, m_wall, f_wall,
                     m_family, f_family))
        print(f"  {case.name}: mofang {m_score:.4f} ({m_wall:.0f}s)  flaml {f_score:.4f} ({f_wall:.0f}s)",
              file=sys.stderr, flush=True)
    print(f"\nMofang vs FLAML · text classification · budget {seconds:.0f}s each · macro-F1 on test · "
          f"{date.today()}\n")
    print("| dataset | train / test rows | classes | Mofang | FLAML | Δ | ratio | Mofang wall s | FLAML wall s "
          "| wall ratio | Mofang model | FLAML model |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case, n_train, n_test, k, m, f, mw, fw, mf, ff in rows:
        print(f"| {case.name} | {n_train:,} / {n_test:,} | {k} | {m:.4f} | {f:.4f} | {m - f:+.4f} | "
              f"{m / f if f else float('nan'):.3f} | {mw:.0f} | {fw:.0f} | {mw / fw if fw else float('nan'):.2f} | "
              f"{mf} | {ff} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
