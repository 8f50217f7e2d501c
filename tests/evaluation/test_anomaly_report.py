"""The anomaly report: timeline and score plots, and the partial listing each test event."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mofang.evaluation.report import render_report
from mofang.orders import parse_order
from mofang.tasks.anomaly.plots import anomaly_plots
from mofang.tasks.anomaly.scoring import _events


def test_report_shows_timeline_and_events() -> None:
    truth = np.zeros(200, dtype=int)
    truth[50:70] = 1
    truth[150:160] = 1
    scores = np.random.default_rng(0).normal(size=200) + 4 * truth
    flags = scores >= 2.5
    times = pd.date_range("2024-01-01", periods=200, freq="s").to_numpy()
    segment = np.zeros(200, dtype=int)
    plots = anomaly_plots(scores, flags, 2.5, truth, times, segment)
    assert set(plots) == {"anomaly_timeline", "score_distribution"}
    assert all(png.startswith(b"\x89PNG") for png in plots.values())
    events = _events(truth, flags, times, segment)
    assert [e["start"] for e in events] == ["2024-01-01 00:00:50", "2024-01-01 00:02:30"]
    assert all(e["detected"] for e in events) and events[0]["readings"] == 20
    order = parse_order("id: a\ntenant: t\ntask: anomaly-detection\ndata: {path: x.csv}\ntime_column: ts\n"
                        "target: y\nacceptance: none\n")
    content = {"order": order, "job_id": 1, "task": "anomaly-detection", "dataset": {"features": []},
               "winner": {"name": "pca-reconstruction", "family": "pca-reconstruction"}, "metrics": {"event_f1": 1.0},
               "primary_metric": "event_f1", "metric_names": ["event_f1"], "verdict": "accepted",
               "gate": {"passed": True, "checks": []}, "leaderboard": [], "reasons": [], "per_class": None,
               "anomaly": {"sensors": ["p"], "window": 10, "false_alarm_rate": 0.01, "threshold": 2.5,
                           "time_column": "ts", "label": "y", "events": events, "delay_s": 1.5, "readings": 200,
                           "counts": {"events": 2, "events_detected": 2, "alarms": 3, "false_alarms": 1}}}
    html = render_report(content, plots)
    assert "Anomaly detection (pca-reconstruction on test)" in html and "2024-01-01 00:02:30" in html
    assert "false alarms 1" in html and "Anomaly timeline: true and detected windows" in html
