"""The HTML evaluation report: one self-contained page (plots embedded) plus the plots as PNG files."""

from __future__ import annotations

import base64
import math
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

TITLES = {"roc_curve": "ROC curve", "pr_curve": "Precision-recall curve",
          "confusion_matrix": "Confusion matrix", "calibration": "Calibration curve",
          "feature_importance": "Feature importance (top 20)", "predicted_vs_actual": "Predicted vs actual",
          "residuals": "Residual histogram", "per_class_f1": "F1 per label",
          "robustness": "Robustness to perturbed inputs", "recall_at_k": "Recall@k and MRR on test questions",
          "anomaly_timeline": "Anomaly timeline: true and detected windows",
          "score_distribution": "Anomaly scores of normal and anomalous readings",
          "generation_metrics": "Base vs tuned answers on the test prompts",
          "training_curve": "Validation loss of the fine-tuning trials"}


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return str(value)


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("mofang.evaluation", "templates"),
                      autoescape=select_autoescape(["html", "j2"]))
    env.globals["fmt"] = _fmt
    return env


def render_report(content: dict[str, Any], plots: dict[str, bytes]) -> str:
    """The report HTML. `content` holds order, job_id, task, dataset, winner, metrics, primary_metric,
    metric_names, gate, verdict, leaderboard and reasons ([{"where", "text"}]); optionally per_class
    ([{"class", "precision", "recall", "f1", "support"}]) and robustness (a robustness measure: metric,
    clean_score, rows [{"perturbation", "score", "drop", "changed_share", "detail"?}], examples) with the
    order's max_robustness_drop."""
    embedded = [{"name": name, "title": TITLES.get(name, name),
                 "data": base64.b64encode(png).decode("ascii")} for name, png in plots.items()]
    dataset = content.get("dataset") or {}
    kinds = Counter(f.get("kind", "?") for f in dataset.get("features") or [])
    failed = [c for c in content["gate"].get("checks", []) if not c["passed"]]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return _environment().get_template("report.html.j2").render(
        **content, plots=embedded, failed=failed, feature_kinds=dict(kinds), generated=generated)


def write_report(folder: Path, content: dict[str, Any], plots: dict[str, bytes]) -> Path:
    """Write report.html and each plot as <name>.png into `folder`; return the HTML path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, png in plots.items():
        (folder / f"{name}.png").write_bytes(png)
    path = folder / "report.html"
    path.write_text(render_report(content, plots), encoding="utf-8")
    return path
