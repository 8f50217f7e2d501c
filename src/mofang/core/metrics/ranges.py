"""The values each metric can take, so an acceptance criterion no model could ever meet (`roc_auc >= 1.8`) or one
every model meets by definition is refused when the order is read, not after a whole job has run."""

from __future__ import annotations

import math

INF = math.inf
UNIT = (0.0, 1.0)
NON_NEGATIVE = (0.0, INF)

# metric → (lowest, highest) possible value; a metric not listed is not checked
RANGES: dict[str, tuple[float, float]] = {
    **{name: UNIT for name in (
        "roc_auc", "pr_auc", "accuracy", "f1_macro", "f1_micro", "precision_macro", "recall_macro", "hamming_loss",
        "event_f1", "event_precision", "event_recall", "point_f1", "false_alarm_rate", "defect_recall", "mask_iou",
        "recall_at_1", "recall_at_5", "mrr", "no_answer_precision", "no_answer_recall", "answered_rate",
        "rouge_l", "bleu", "f1", "exact_match", "choice_accuracy", "hallucination_rate", "grounded_rate",
        "refusal_rate")},
    **{name: NON_NEGATIVE for name in ("log_loss", "rmse", "mae", "mape", "mase", "wql", "eval_loss",
                                       "detection_delay")},
    "r2": (-INF, 1.0),
    "smape": (0.0, 2.0),
    "judge_score": (1.0, 5.0),
}


def out_of_range(metric: str, op: str, value: float) -> str | None:
    """Why `metric op value` is no criterion (it can never hold, or always holds), or None when it is one."""
    low, high = RANGES.get(metric, (-INF, INF))
    shown = f"[{_fmt(low)}, {_fmt(high)}]"
    if not low <= value <= high:
        return f"{value:g} is outside the range of {metric}, {shown}"
    never = (op == ">" and value >= high) or (op == "<" and value <= low)
    if never:
        return f"no {metric} is {op} {value:g}: its range is {shown}"
    return None


def _fmt(value: float) -> str:
    return "∞" if value == INF else "-∞" if value == -INF else f"{value:g}"
