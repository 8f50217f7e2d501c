"""Single-feature scores that reveal a column predicting the target on its own (target leakage), and the guard's
decision: which scores drop a column, on how many rows (the order's `leakage:` section)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from mofang.orders.schema import LeakageGuard

DEFAULT_GUARD = LeakageGuard()
LEAK_SCORE = DEFAULT_GUARD.threshold  # a single column this predictive in business data is almost always a leak
_BINS = 50


def undecided(rows: int, guard: LeakageGuard = DEFAULT_GUARD) -> str | None:
    """Why the guard does not decide on `rows` labelled rows (too few for one column's score to prove a leak);
    None when it decides."""
    if rows >= guard.min_rows:
        return None
    return (f"{rows:,} labelled rows, fewer than leakage.min_rows {guard.min_rows:,}: the scores are recorded, "
            "no column is dropped for leakage")


def is_leak(score: float, rows: int, guard: LeakageGuard = DEFAULT_GUARD) -> bool:
    """Whether a column scoring `score` on its own is dropped as a leak on `rows` labelled rows."""
    return undecided(rows, guard) is None and score >= guard.threshold


def guard_record(rows: int, scores: dict[str, dict[str, Any]],
                 guard: LeakageGuard = DEFAULT_GUARD) -> dict[str, Any]:
    """What the data card says of the guard: its settings, the rows it saw, whether it decided and why; when it
    did not, the columns it would have dropped."""
    why = undecided(rows, guard)
    suspects = sorted(name for name, found in scores.items() if found["score"] >= guard.threshold)
    if why is None:
        reason = (f"decided on {rows:,} labelled rows: a column scoring ≥ {guard.threshold:g} on its own is dropped"
                  + (f" ({', '.join(suspects)})" if suspects else " (none did)"))
    else:
        reason = why + (f"; it would have dropped {', '.join(suspects)}" if suspects else "")
    return {"threshold": guard.threshold, "min_rows": guard.min_rows, "rows": rows, "decided": why is None,
            "reason": reason, "undecided_columns": [] if why is None else suspects}


def leak_score(values: pd.Series, kind: str, target: pd.Series, classification: bool) -> tuple[float, str]:
    """(score, what it is) of predicting the target from this column alone; 1.0 means perfectly.

    Classification: numeric columns → ROC-AUC (binary, either direction), else the cross-fitted
    accuracy of "the majority class of this value" (numeric binned), reported as the share of the
    gap between the majority-class baseline and 1 that the column closes. Regression: numeric →
    |Spearman|, else the cross-fitted R² of "the mean target of this value".
    """
    if kind == "datetime":
        values = values.astype("int64").where(values.notna(), np.nan).astype("float64")
        kind = "numeric"
    if classification:
        if kind in ("numeric", "boolean") and target.nunique() == 2:
            return _auc(values.astype("float64"), target), "ROC-AUC"
        groups = _groups(values, kind)
        return _purity_gain(groups, target), "purity"
    if kind in ("numeric", "boolean"):
        ok = values.notna() & target.notna()
        if ok.sum() < 3 or values[ok].nunique() < 2:
            return 0.0, "|Spearman|"
        rho = spearmanr(values[ok].to_numpy(dtype=float), target[ok].to_numpy(dtype=float)).statistic
        return float(abs(np.nan_to_num(rho))), "|Spearman|"
    return _crossfit_r2(_groups(values, kind), target.astype("float64")), "R²"


def _groups(values: pd.Series, kind: str) -> pd.Series:
    if kind in ("numeric", "boolean"):
        numbers = values.astype("float64")
        if numbers.nunique() > _BINS:
            numbers = pd.qcut(numbers, _BINS, labels=False, duplicates="drop")
        return numbers.astype("string").fillna("<missing>")
    return values.astype("string").fillna("<missing>")


def _auc(values: pd.Series, target: pd.Series) -> float:
    positive = (target == sorted(target.dropna().unique())[-1]).to_numpy()
    filled = values.fillna(values.min() - 1 if values.notna().any() else 0).to_numpy()
    if np.unique(filled).size < 2:
        return 0.5
    auc = float(roc_auc_score(positive, filled))
    return max(auc, 1.0 - auc)


def _halves(n: int) -> np.ndarray:
    return np.random.default_rng(0).permutation(n) % 2 == 0


def _purity_gain(groups: pd.Series, target: pd.Series) -> float:
    """Cross-fitted accuracy of the per-value majority class, as a share of the gap from baseline to 1."""
    frame = pd.DataFrame({"g": groups.to_numpy(), "y": target.astype("string").to_numpy()})
    first = _halves(len(frame))
    correct = 0
    for fit, score in ((first, ~first), (~first, first)):
        learned = frame[fit].groupby(["g", "y"]).size().unstack(fill_value=0).idxmax(axis=1)
        fallback = frame["y"][fit].value_counts().index[0]
        guess = frame["g"][score].map(learned).fillna(fallback)
        correct += int((guess == frame["y"][score]).sum())
    accuracy = correct / len(frame)
    baseline = float(frame["y"].value_counts(normalize=True).iloc[0])
    if baseline >= 1.0:
        return 0.0
    return max(0.0, (accuracy - baseline) / (1.0 - baseline))


def _crossfit_r2(groups: pd.Series, target: pd.Series) -> float:
    frame = pd.DataFrame({"g": groups.to_numpy(), "y": target.to_numpy()}).dropna()
    if len(frame) < 4 or frame["y"].var() == 0:
        return 0.0
    first = _halves(len(frame))
    errors = 0.0
    for fit, score in ((first, ~first), (~first, first)):
        learned = frame[fit].groupby("g")["y"].mean()
        guess = frame["g"][score].map(learned).fillna(frame["y"][fit].mean())
        errors += float(((guess - frame["y"][score]) ** 2).sum())
    total = float(((frame["y"] - frame["y"].mean()) ** 2).sum())
    return max(0.0, 1.0 - errors / total)
