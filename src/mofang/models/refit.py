"""The delivered model fitted again on every labelled row, once the gate has passed.

A few thousand labels split 70/15/15 leave 15 % of them to the gate alone. An order that sets
`deployment.refit_on_all_rows` trades that for a stronger delivered model: after the evaluation center
has measured the winner on test, the winner's family fits it again — same parameters, same decision
threshold and calibration — on train + valid + test (what FLAML's `retrain_full` and AutoGluon's
`refit_full` do). The report's test figures stay those of the model before the refit, and say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mofang.models.candidate import Candidate
from mofang.models.ensemble import EnsembleCandidate
from mofang.models.registry import get_trainer

REFIT_MARGIN = 1.5  # a refit is started only when this many times its estimated seconds are left


@dataclass(frozen=True)
class Refit:
    """A refitted model, or why not: `candidate` is None when nothing could be refitted."""

    candidate: Candidate | None
    rows: int
    refitted: list[str]
    kept: list[str]  # members (or the model) left as they were, with the reason

    @property
    def note(self) -> str:
        if self.candidate is None:
            return "not refitted: " + "; ".join(self.kept)
        text = f"{', '.join(self.refitted)} refitted on all {self.rows:,} labelled rows (train + valid + test)"
        return text + (f"; kept as chosen: {'; '.join(self.kept)}" if self.kept else "")


def refittable(candidate: Candidate) -> bool:
    """Whether any part of `candidate` can be fitted again without validation rows."""
    members = candidate.members_ if isinstance(candidate, EnsembleCandidate) else [candidate]
    return any(get_trainer(m.task, m.family).refit_on_valid for m in members)


def estimate_seconds(single_fit_s: float | None, fitted_rows: int, all_rows: int) -> float:
    """Seconds a refit on `all_rows` should take, from one fit's seconds on `fitted_rows` (linear in rows)."""
    return float(single_fit_s or 0.0) * max(1.0, all_rows / max(1, fitted_rows))


def refit_on_rows(candidate: Candidate, dataset: dict, rows: pd.DataFrame, seed: int) -> Refit:
    """`candidate` (or each member of an ensemble) fitted again on `rows` with its chosen parameters;
    members whose family cannot be refitted are kept as they were."""
    members = candidate.members_ if isinstance(candidate, EnsembleCandidate) else [candidate]
    fitted, refitted, kept = [], [], []
    for member in members:
        trainer = get_trainer(member.task, member.family)
        if not trainer.refit_on_valid:
            fitted.append(member)
            kept.append(f"{member.name} ({member.family} stops early on validation rows)")
            continue
        trainer.order = None
        again = trainer.refit_rows(member, dataset, rows, seed)
        again.name = member.name
        fitted.append(again)
        refitted.append(member.name)
    if not refitted:
        return Refit(None, len(rows), [], kept)
    if isinstance(candidate, EnsembleCandidate):
        result: Candidate = EnsembleCandidate(fitted, name=candidate.name,
                                              weights=getattr(candidate, "weights_", None))
        result.threshold_ = candidate.threshold_
    else:
        result = fitted[0]
    return Refit(result, len(rows), refitted, kept)
