"""Metrics every unit scores with: predictive (classification, regression), anomaly events, generated text.

They live in core because the model workshop ranks candidates by them and the evaluation center reports them:
both read the same definitions, and neither imports the other for them."""

from mofang.core.metrics.predictive import compute_metrics, is_better, per_class_report

__all__ = ["compute_metrics", "is_better", "per_class_report"]
