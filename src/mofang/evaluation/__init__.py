"""The evaluation center (评测中心): metrics, the acceptance gate, the leaderboard and the HTML report."""

from mofang.core.metrics import compute_metrics
from mofang.evaluation.gates import check_gate
from mofang.evaluation.station import EvaluationCenter

__all__ = ["EvaluationCenter", "check_gate", "compute_metrics"]
