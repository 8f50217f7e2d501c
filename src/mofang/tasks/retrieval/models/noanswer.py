"""A calibrated "no answer" threshold on the top score, chosen to reach a target no-answer precision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class NoAnswerThreshold:
    """Answer "no answer" when the top score is below `threshold` (None: always answer).

    `precision`/`recall` are those of the "no answer" decision on the calibration questions (`answerable` +
    `unanswerable` of them); precision depends on that mix, so it is reported with the counts.
    """

    threshold: float | None
    target_precision: float
    precision: float
    recall: float
    answerable: int
    unanswerable: int
    reason: str

    def rejects(self, scores: np.ndarray | float) -> np.ndarray:
        """True where a top score means "no answer"."""
        scores = np.asarray(scores, dtype=float)
        if self.threshold is None:
            return np.zeros(scores.shape, dtype=bool)
        return scores < self.threshold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def calibrate(answerable: Sequence[float], unanswerable: Sequence[float],
              target_precision: float = 0.9) -> NoAnswerThreshold:
    """The threshold with the highest no-answer recall whose precision reaches `target_precision` on these
    top scores (answerable questions should score high, unanswerable ones low); none when no threshold
    reaches it (then the model always answers, and the reason says the best precision seen)."""
    if not 0.0 < target_precision <= 1.0:
        raise ValueError(f"target no-answer precision must lie in (0, 1], got {target_precision}")
    pos = np.asarray(answerable, dtype=float)
    neg = np.asarray(unanswerable, dtype=float)
    n_pos, n_neg = len(pos), len(neg)
    if n_neg == 0 or n_pos == 0:
        what = "unanswerable" if n_neg == 0 else "answerable"
        return NoAnswerThreshold(None, target_precision, float("nan"), float("nan"), n_pos, n_neg,
                                 f"no {what} calibration questions: no threshold")
    values = np.unique(np.concatenate([pos, neg]))
    # thresholds between consecutive distinct scores, and one above them all (reject everything)
    cuts = np.concatenate([(values[:-1] + values[1:]) / 2.0, [values[-1] + 1e-6]])
    rejected_neg = np.searchsorted(np.sort(neg), cuts, side="left")  # scores < cut
    rejected_pos = np.searchsorted(np.sort(pos), cuts, side="left")
    total = rejected_neg + rejected_pos
    precision = np.where(total > 0, rejected_neg / np.maximum(total, 1), 0.0)
    recall = rejected_neg / n_neg
    ok = precision >= target_precision - 1e-12
    if not ok.any():
        best = int(np.argmax(precision))
        return NoAnswerThreshold(None, target_precision, float(precision[best]), float(recall[best]), n_pos, n_neg,
                                 f"no threshold reaches no-answer precision {target_precision:.2f} "
                                 f"(best {precision[best]:.2f} at recall {recall[best]:.2f}): always answering")
    candidates = np.flatnonzero(ok)
    best = int(candidates[np.lexsort((-precision[candidates], -recall[candidates]))[0]])
    return NoAnswerThreshold(float(cuts[best]), target_precision, float(precision[best]), float(recall[best]),
                             n_pos, n_neg,
                             f"top score < {cuts[best]:.4f}: no-answer precision {precision[best]:.3f}, recall "
                             f"{recall[best]:.3f} on {n_pos} answerable + {n_neg} unanswerable questions")
