"""The evaluation center (评测中心): metrics, the acceptance gate, the leaderboard and the HTML report."""

# order matters: metrics must load before station, because station imports mofang.models, which
# imports mofang.evaluation.metrics
from mofang.evaluation.gates import check_gate
from mofang.evaluation.metrics import compute_metrics
from mofang.evaluation.station import EvaluationCenter

__all__ = ["EvaluationCenter", "check_gate", "compute_metrics"]
