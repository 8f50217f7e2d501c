"""Benchmark: Mofang vs AutoGluon (`best_quality`) vs FLAML on shared tabular datasets, same split, same budget.

Each dataset is split once (80/20, stratified for classes, seed 0). Every system runs in a process of its own
under `/usr/bin/time -v` (its peak memory), with the same seconds:
- Mofang gets the 80% as a CSV order whose budget covers the whole job (data workshop, model workshop, gate,
  packaging) and is scored through its delivered bundle on the raw 20% rows — the served path;
- AutoGluon (`presets="best_quality"`, `time_limit`) and FLAML (`time_budget`) get the same 80% typed (numbers,
  categories) and run in their own virtual environment (`--setup` creates it), so their pins never touch Mofang's.

    python bench/tabular.py --setup                                   # the AutoML venv (once; a few minutes)
    python bench/tabular.py [--seconds 300] [--datasets taiwan german bank churn superstore]
                            [--systems mofang autogluon flaml] [--markdown table.md]

Scores: classification ROC-AUC and macro-F1 at each system's own decisions (Mofang: also at 0.5, to show what
the chosen threshold does); regression R² and RMSE. Wall seconds are the whole process's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score, mean_squared_error, r2_score, roc_auc_score
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "datasets" / "tabular"
AUTOML_VENV = Path(os.environ.get("MOFANG_BENCH_AUTOML_VENV", Path.home() / ".cache" / "mofang" / "bench-automl"))
# the AutoML side's pins (checked together on 2026-12-07): torch is the CPU build (as in constraints.txt); FLAML
# without its `automl` extra, whose xgboost<3 would install a second `xgboost` package over AutoGluon's
# xgboost-cpu (xgboost 2.1.4 fails with the scikit-learn 1.9.1 AutoGluon resolves); FLAML runs on xgboost-cpu 3.2
AUTOML_PACKAGES = ["autogluon.tabular[lightgbm,catboost,xgboost,fastai]==1.6.3", "flaml==2.8.0"]
AUTOML_CONSTRAINTS = ["torch==2.13.0", "xgboost-cpu==3.2.0", "scikit-learn==1.9.1"]


@dataclass(frozen=True)
class Case:
    key: str
    file: str
    target: str
    task: str


CASES = {
    "taiwan": Case("taiwan", "taiwan_credit_default.csv", "default.payment.next.month", "tabular-classification"),
    "german": Case("german", "german_credit.csv", "credit_risk", "tabular-classification"),
    "bank": Case("bank", "bank_marketing.csv", "y", "tabular-classification"),
    "churn": Case("churn", "bank_churn_with_missing.csv", "Exited", "tabular-classification"),
    "superstore": Case("superstore", "superstore_orders.csv", "Profit", "tabular-regression"),
}


def split(case: Case) -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(SHARED / case.file, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    raw = raw[raw[case.target].str.strip() != ""]
    stratify = raw[case.target] if case.task == "tabular-classification" else None
    return train_test_split(raw, test_size=0.2, random_state=0, stratify=stratify)


# -- the systems, each in its own process ----------------------------------------------------------------
def mofang_worker(key: str, train_csv: str, test_csv: str, seconds: float, out: Path) -> None:
    """Mofang on one split (run in a process of its own): predictions.csv and result.json into `out`."""
    case = CASES[key]
    os.environ["MOFANG_HOME"] = str(out / "home")
    from mofang.integration.bundle import open_bundle
    from mofang.line import run
    from mofang.orders import load_order
    from mofang.scheduling.admission import admit as submit
    from mofang.store import MetaStore

    train = pd.read_csv(train_csv, dtype=str, keep_default_na=False)
    test = pd.read_csv(test_csv, dtype=str, keep_default_na=False)
    work = out / "order"
    work.mkdir(parents=True, exist_ok=True)
    train.to_csv(work / "train.csv", index=False)
    order_file = work / "order.yaml"
    order_file.write_text(
        f"id: bench-{case.key}\ntenant: bench\ntask: {case.task}\ndata:\n  - path: train.csv\n"
        f"target: {case.target}\nacceptance: none\nbudget:\n  minutes: {seconds / 60:.4f}\n", encoding="utf-8")
    meta = MetaStore()
    started = time.perf_counter()
    job = run(submit(load_order(order_file), meta, source_file=order_file), meta=meta)
    wall = time.perf_counter() - started
    bundle = open_bundle(meta.product_version(f"bench-{case.key}").bundle_path if job.status == "done"
                         else job.outcome["bundle"], "bench", meta)  # delivered bundles are encrypted at rest
    answer = bundle.predict_records(test.drop(columns=[case.target]).to_dict(orient="records"))
    table = pd.DataFrame({"prediction": answer["predictions"]})
    if case.task == "tabular-classification":
        positive = sorted(test[case.target].str.strip().unique())[-1]
        table["proba"] = [row.get(positive, 0.0) for row in answer["probabilities"]]
    table.to_csv(out / "predictions.csv", index=False)
    candidate = bundle.candidate
    result = {"model": bundle.metadata.get("family"), "job_wall_s": round(wall, 1),
              "threshold": getattr(candidate, "threshold_", None),
              "members": candidate.params.get("members"), "weights": candidate.params.get("weights")}
    record = meta.order(f"bench-{case.key}", "bench")  # the model workshop's reasons, for the record
    result["model_reasons"] = [reason for job in record.jobs for station in job.stations if station.station == "model"
                               for process in station.processes for reason in (process.reasons or [])]
    (out / "result.json").write_text(json.dumps(result, default=str, ensure_ascii=False), encoding="utf-8")
    meta.dispose()


def command(system: str, case: Case, train_csv: Path, test_csv: Path, seconds: float, out: Path) -> list[str]:
    if system == "mofang":
        return [sys.executable, str(Path(__file__).resolve()), "--worker", case.key, str(train_csv),
                str(test_csv), str(seconds), str(out)]
    return [str(AUTOML_VENV / "bin" / "python"), str(HERE / "automl_worker.py"), system, str(train_csv),
            str(test_csv), case.target, case.task, str(seconds), str(out)]


def run_system(system: str, case: Case, train: pd.DataFrame, test: pd.DataFrame, seconds: float,
               work: Path) -> dict[str, Any]:
    out = work / system
    out.mkdir(parents=True, exist_ok=True)
    train_csv, test_csv = work / "train.csv", work / "test.csv"
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command(system, case, train_csv, test_csv, seconds, out)],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if done.returncode != 0 or not (out / "predictions.csv").exists():
        own = done.stderr.split("\tCommand being timed")[0]  # its own output, before /usr/bin/time's figures
        tail = "\n".join(own.strip().splitlines()[-15:])
        print(f"  {system} failed on {case.key} (exit {done.returncode}):\n{tail}", file=sys.stderr)
        return {"system": system, "failed": True, "wall_s": wall}
    predictions = pd.read_csv(out / "predictions.csv", dtype={"prediction": str})
    result = json.loads((out / "result.json").read_text())
    reasons = result.pop("model_reasons", None)
    if reasons:  # kept beside the temporary work folder: why the model workshop chose what it delivered
        kept = Path(tempfile.gettempdir()) / f"mofang-bench-{case.key}-reasons.txt"
        kept.write_text("\n".join(reasons) + "\n", encoding="utf-8")
    return {"system": system, "wall_s": wall, "peak_gb": int(peak.group(1)) / 2**20 if peak else float("nan"),
            **result, **scores(case, test, predictions)}


def scores(case: Case, test: pd.DataFrame, predictions: pd.DataFrame) -> dict[str, float]:
    truth = test[case.target].str.strip().to_numpy()
    if case.task != "tabular-classification":
        y, p = truth.astype(float), predictions["prediction"].astype(float).to_numpy()
        return {"r2": float(r2_score(y, p)), "rmse": float(np.sqrt(mean_squared_error(y, p)))}
    classes = sorted(set(truth))
    positive = truth == classes[-1]
    proba = predictions["proba"].to_numpy(dtype=float)
    labels = predictions["prediction"].astype(str).str.strip().to_numpy()
    at_half = np.where(proba >= 0.5, classes[-1], classes[0])
    return {"roc_auc": float(roc_auc_score(positive, proba)),
            "f1_macro": float(f1_score(truth, labels, average="macro")),
            "f1_macro_at_0.5": float(f1_score(truth, at_half, average="macro")),
            "positives": float(positive.mean())}


# -- the AutoML environment -----------------------------------------------------------------------------
def setup_automl() -> int:
    """Create the AutoML virtual environment (AutoGluon + FLAML, CPU torch) beside nothing of Mofang's."""
    python = os.environ.get("MOFANG_BENCH_PYTHON", "python3.11")
    if not (AUTOML_VENV / "bin" / "python").exists():
        subprocess.run([python, "-m", "venv", str(AUTOML_VENV)], check=True)
    constraints = AUTOML_VENV / "constraints.txt"
    constraints.write_text("\n".join(AUTOML_CONSTRAINTS) + "\n", encoding="utf-8")
    pip = [str(AUTOML_VENV / "bin" / "pip"), "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-c", str(constraints), *AUTOML_PACKAGES], check=True)
    check = ("import autogluon.tabular, flaml; "
             "print('autogluon', autogluon.tabular.__version__, 'flaml', flaml.__version__)")
    return subprocess.run([str(AUTOML_VENV / "bin" / "python"), "-c", check]).returncode


# -- the table ------------------------------------------------------------------------------------------
def table(rows: list[tuple[Case, list[dict[str, Any]]]], seconds: float) -> str:
    lines = [f"Tabular · budget {seconds:.0f}s per system and dataset · 2 CPU cores · test split 20% (seed 0) · "
             f"{date.today()}", "",
             "| dataset | system | ROC-AUC / R² | macro-F1 / RMSE | macro-F1 at 0.5 | wall s (% of budget) | peak GB "
             "| model |",
             "|---|---|---|---|---|---|---|---|"]
    for case, results in rows:
        for r in results:
            if r.get("failed"):
                lines.append(f"| {case.file} | {r['system']} | failed | | | {r['wall_s']:.0f} | | |")
                continue
            classification = case.task == "tabular-classification"
            first = r["roc_auc"] if classification else r["r2"]
            second = r["f1_macro"] if classification else r["rmse"]
            half = f"{r['f1_macro_at_0.5']:.4f}" if classification else ""
            model = r.get("model") or ""
            if r.get("members"):
                model = f"ensemble of {', '.join(map(str, r['members']))}"
            peak = r.get("peak_gb", float("nan"))
            lines.append(f"| {case.file} | {r['system']} | {first:.4f} | {second:.4f} | {half} | "
                         f"{r['wall_s']:.0f} ({100 * r['wall_s'] / seconds:.0f}%) | {peak:.2f} | {model} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="budget per dataset and system")
    parser.add_argument("--datasets", nargs="+", default=["taiwan", "german", "bank", "churn", "superstore"],
                        choices=sorted(CASES))
    parser.add_argument("--systems", nargs="+", default=["mofang", "autogluon", "flaml"],
                        choices=["mofang", "autogluon", "flaml"])
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--setup", action="store_true", help="create the AutoML virtual environment and exit")
    parser.add_argument("--worker", nargs=5, metavar=("CASE", "TRAIN", "TEST", "SECONDS", "OUT"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.worker:
        key, train_csv, test_csv, seconds, out = args.worker
        mofang_worker(key, train_csv, test_csv, float(seconds), Path(out))
        return 0
    if args.setup:
        return setup_automl()
    if not SHARED.exists():
        print(f"shared datasets not found at {SHARED}", file=sys.stderr)
        return 2
    automl = [s for s in args.systems if s != "mofang"]
    if automl and not (AUTOML_VENV / "bin" / "python").exists():
        print(f"no AutoML environment at {AUTOML_VENV}: run `python bench/tabular.py --setup` first "
              "(or set MOFANG_BENCH_AUTOML_VENV)", file=sys.stderr)
        return 2
    rows = []
    for key in args.datasets:
        case = CASES[key]
        train, test = split(case)
        results = []
        with tempfile.TemporaryDirectory(prefix=f"bench-{key}-") as tmp:
            work = Path(tmp)
            train.to_csv(work / "train.csv", index=False)
            test.to_csv(work / "test.csv", index=False)
            for system in args.systems:
                result = run_system(system, case, train, test, args.seconds, work)
                results.append(result)
                shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in result.items()}
                print(f"  {case.file}: {shown}", file=sys.stderr, flush=True)
        rows.append((case, results))
    text = table(rows, args.seconds)
    print("\n" + text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
