"""Benchmark: Mofang vs FLAML AutoML on shared tabular datasets, same split, same time budget.

Each dataset is split once (stratified 80/20, seed 0). Mofang gets the 80% as a CSV order (its own
data workshop, model workshop and gates run inside the budget, which covers the whole job) and is
scored through its delivered bundle on the raw 20% rows — the served path. FLAML gets the same 80%
as a DataFrame (strings as categories) with `time_budget` = the same seconds for its search alone.

    python bench/tabular.py [--minutes 1] [--datasets taiwan german bank churn superstore]
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
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tabular"


@dataclass(frozen=True)
class Case:
    key: str
    file: str
    target: str
    task: str
    metric: str


CASES = {
    "taiwan": Case("taiwan", "taiwan_credit_default.csv", "default.payment.next.month",
                   "tabular-classification", "roc_auc"),
    "german": Case("german", "german_credit.csv", "credit_risk", "tabular-classification", "roc_auc"),
    "bank": Case("bank", "bank_marketing.csv", "y", "tabular-classification", "roc_auc"),
    "churn": Case("churn", "bank_churn_with_missing.csv", "Exited", "tabular-classification", "roc_auc"),
    "superstore": Case("superstore", "superstore_orders.csv", "Profit", "tabular-regression", "r2"),
}


def split(case: Case) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(SHARED / case.file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raw = raw[raw[case.target].str.strip() != ""]
    stratify = raw[case.target] if case.task == "tabular-classification" else None
    return train_test_split(raw, test_size=0.2, random_state=0, stratify=stratify)


def score(case: Case, y_true: pd.Series, predictions: np.ndarray, positive_proba: np.ndarray | None) -> float:
    if case.metric == "roc_auc":
        return float(roc_auc_score(y_true, positive_proba))
    return float(r2_score(y_true.astype(float), predictions))


def run_mofang(case: Case, train: pd.DataFrame, test: pd.DataFrame, seconds: float, work: Path) -> tuple:
    os.environ["MOFANG_HOME"] = str(work / "home")
    from mofang.line import run
    from mofang.orders import load_order
    from mofang.products import load_bundle
    from mofang.scheduling.admission import admit as submit
    from mofang.store import MetaStore

    train.to_csv(work / "train.csv", index=False)
    order_file = work / "order.yaml"
    order_file.write_text(
        f"id: bench-{case.key}\ntenant: bench\ntask: {case.task}\ndata:\n  - path: train.csv\n"
        f"target: {case.target}\nbudget:\n  minutes: {seconds / 60:.4f}\n", encoding="utf-8")
    started = time.perf_counter()
    meta = MetaStore()
    job_id = submit(load_order(order_file), meta, source_file=order_file)
    job = run(job_id, meta=meta)
    wall = time.perf_counter() - started
    bundle = load_bundle(meta.product_version(f"bench-{case.key}").bundle_path if job.status == "done"
                         else job.outcome["bundle"])
    answer = bundle.predict_records(test.drop(columns=[case.target]).to_dict(orient="records"))
    proba = None
    if case.task == "tabular-classification":
        classes = sorted(test[case.target].str.strip().unique())
        positive = classes[-1]
        proba = np.array([row.get(positive, 0.0) for row in answer["probabilities"]])
    meta.dispose()
    return score(case, test[case.target].str.strip(), np.asarray(answer["predictions"]), proba), wall, \
        bundle.metadata["family"]


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        numeric = pd.to_numeric(out[column].replace("", np.nan), errors="coerce")
        if numeric.notna().mean() >= 0.95 * max(out[column].ne("").mean(), 1e-9):
            out[column] = numeric
        else:
            out[column] = out[column].astype("category")
    return out


def run_flaml(case: Case, train: pd.DataFrame, test: pd.DataFrame, seconds: float) -> tuple:
    from flaml import AutoML

    x_train, x_test = _typed(train.drop(columns=[case.target])), test.drop(columns=[case.target])
    x_test = _typed(x_test)
    for column in x_train.columns:  # same categories on both sides
        if isinstance(x_train[column].dtype, pd.CategoricalDtype):
            x_test[column] = pd.Categorical(x_test[column].astype(str), categories=x_train[column].cat.categories)
    y_train = train[case.target].str.strip()
    automl = AutoML()
    started = time.perf_counter()
    if case.task == "tabular-classification":
        automl.fit(x_train, y_train, task="classification", metric="roc_auc", time_budget=seconds,
                   seed=0, verbose=0, n_jobs=2)
        classes = list(automl.classes_)
        proba = automl.predict_proba(x_test)[:, classes.index(sorted(classes)[-1])]
        predictions = automl.predict(x_test)
    else:
        automl.fit(x_train, y_train.astype(float), task="regression", metric="r2", time_budget=seconds,
                   seed=0, verbose=0, n_jobs=2)
        proba, predictions = None, automl.predict(x_test)
    wall = time.perf_counter() - started
    return score(case, test[case.target].str.strip(), predictions, proba), wall, automl.best_estimator


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=1.0, help="budget per dataset and system")
    parser.add_argument("--datasets", nargs="+", default=["taiwan", "german", "bank", "churn", "superstore"],
                        choices=sorted(CASES))
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
        rows.append((case.file, case.metric, m_score, f_score, m_score - f_score, m_wall, f_wall,
                     m_family, f_family))
        print(f"  {case.file}: mofang {m_score:.4f} ({m_wall:.0f}s)  flaml {f_score:.4f} ({f_wall:.0f}s)",
              file=sys.stderr, flush=True)
    print(f"\nMofang vs FLAML · budget {seconds:.0f}s each · test split 20% (seed 0) · {date.today()}\n")
    print("| dataset | metric | Mofang | FLAML | Δ | Mofang wall s | FLAML wall s | Mofang model | FLAML model |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.4f} | {r[3]:.4f} | {r[4]:+.4f} | {r[5]:.0f} | {r[6]:.0f} | "
              f"{r[7]} | {r[8]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
