"""The evaluation center's anomaly-detection processes: event metrics on test, the gate, the report."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mofang.core.metrics.anomaly import anomaly_metrics, runs
from mofang.data.sensors import labels_of
from mofang.evaluation.gates import check_gate, record_gate
from mofang.evaluation.report import write_report
from mofang.tasks.anomaly.models.features import segments
from mofang.tasks.anomaly.models.model import AnomalyModel
from mofang.tasks.anomaly.plots import anomaly_plots

METRIC_NAMES = ("event_f1", "event_precision", "event_recall", "detection_delay", "point_f1", "false_alarm_rate")
LATENCY_CALLS = 200
MAX_EVENTS = 30  # events listed in the report


def test_metrics(model: AnomalyModel, test: pd.DataFrame, info: dict[str, Any]) -> dict[str, Any]:
    """The model's event and point metrics on test (only the share of flagged readings without labels)."""
    scored = model.score_frame(test)
    truth, times, segment = _truth_times(test, info)
    if truth is None:
        return {"alarm_share": float(np.mean(scored["flags"])) if len(test) else None}
    return anomaly_metrics(truth, scored["flags"], times, segment)


def score_anomaly(ctx: Any, dataset: dict[str, Any], test: pd.DataFrame, candidates: list[dict[str, Any]],
                  metric: str) -> str:
    leaderboard = [{**r, "test_metrics": test_metrics(AnomalyModel.load(r["model_path"]), test, dataset["anomaly"])}
                   for r in candidates]
    if not dataset["anomaly"].get("label"):
        ctx.reason("no label column: event metrics cannot be measured; the report shows the share of test readings "
                   "flagged")
    ctx.metric(**{f"{r['name']}_test_{metric}": r["test_metrics"].get(metric) for r in leaderboard})
    ctx.save("leaderboard", leaderboard)
    return "; ".join(f"{r['name']} test {metric} {_fmt(r['test_metrics'].get(metric))}" for r in leaderboard)


def gate_anomaly(ctx: Any, winner: dict[str, Any], leaderboard: list[dict[str, Any]], test: pd.DataFrame) -> str:
    row = next(r for r in leaderboard if r["name"] == winner["name"])
    model = AnomalyModel.load(winner["model_path"])
    latency = model.measure_latency(test, n=LATENCY_CALLS)
    size_mb = AnomalyModel.size_mb(winner["model_path"])
    result = check_gate(ctx.order, row["test_metrics"], size_mb, latency["p95_ms"])
    result.update(size_mb=round(size_mb, 4), p50_ms=round(latency["p50_ms"], 3), p95_ms=round(latency["p95_ms"], 3),
                  winner=winner["name"], latency_unit=f"one window of {model.window} readings")
    return record_gate(ctx, result)


def report_anomaly(ctx: Any, dataset: dict[str, Any], test: pd.DataFrame, winner: dict[str, Any],
                   leaderboard: list[dict[str, Any]], gate: dict[str, Any], metrics: dict[str, Any], verdict: str,
                   reasons: list[dict[str, str]]) -> str:
    info = dataset["anomaly"]
    model = AnomalyModel.load(winner["model_path"])
    scored = model.score_frame(test)
    truth, times, segment = _truth_times(test, info)
    plots = anomaly_plots(scored["scores"], scored["flags"], float(model.threshold_ or 0.0), truth, times, segment)
    names = list(METRIC_NAMES) if truth is not None else ["alarm_share"]
    anomaly = {"sensors": info["sensors"], "window": info["window"], "false_alarm_rate": info["false_alarm_rate"],
               "threshold": model.threshold_, "time_column": info["time_column"], "label": info.get("label"),
               "events": _events(truth, scored["flags"], times, segment) if truth is not None else [],
               "counts": {k: metrics.get(k) for k in ("events", "events_detected", "alarms", "false_alarms")},
               "delay_s": metrics.get("detection_delay_s"), "readings": len(test)}
    content = {"order": ctx.order, "job_id": ctx.job_id, "task": dataset["task"], "dataset": dataset,
               "winner": winner, "metrics": metrics, "primary_metric": winner["primary_metric"],
               "metric_names": names, "gate": gate, "verdict": verdict, "leaderboard": leaderboard,
               "reasons": reasons, "per_class": None, "anomaly": anomaly}
    path = write_report(ctx.path("report"), content, plots)
    failed = [c["name"] for c in gate["checks"] if not c["passed"]]
    evaluation = {"metrics": metrics, "leaderboard": leaderboard, "gate": gate, "verdict": verdict,
                  "report_path": str(path), "primary_metric": winner["primary_metric"], "winner": winner["name"],
                  "plots": sorted(plots)}
    ctx.save("evaluation", evaluation)
    ctx.set_outcome(verdict=verdict, failed_checks=failed, report=str(path), metrics=metrics)
    ctx.reason(f"verdict {verdict}" + (f": failed {', '.join(failed)}" if failed else ""))
    return f"{verdict.upper()} · report with {len(plots)} plots at {path}"


def _truth_times(test: pd.DataFrame, info: dict[str, Any]) -> tuple[np.ndarray | None, np.ndarray | None,
                                                                     np.ndarray]:
    label, time_column = info.get("label"), info.get("time_column")
    truth = labels_of(test[label]) if label and label in test.columns else None
    times = test[time_column] if time_column and time_column in test.columns else None
    return truth, (times.to_numpy() if times is not None else None), segments(times, len(test))


def _events(truth: np.ndarray, flags: np.ndarray, times: np.ndarray | None,
            segment: np.ndarray) -> list[dict[str, Any]]:
    """Each true event of the test split: where it is, whether it was detected and after how many readings."""
    out = []
    for start, end in runs(truth == 1, segment)[:MAX_EVENTS]:
        hits = np.flatnonzero(flags[start:end + 1])
        out.append({"start": _when(times, start), "end": _when(times, end), "readings": end - start + 1,
                    "detected": bool(len(hits)), "delay": int(hits[0]) if len(hits) else None})
    return out


def _when(times: np.ndarray | None, position: int) -> Any:
    """A reading's time as people write it (2020-03-09 14:47:04), else its position."""
    if times is None:
        return position
    value = times[position]
    return str(pd.Timestamp(value)) if np.issubdtype(np.asarray(times).dtype, np.datetime64) else str(value)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
