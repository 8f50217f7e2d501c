"""Event-level anomaly metrics: events, false alarms, detection delay and point metrics, counted by hand."""

from __future__ import annotations

import numpy as np
import pytest

from mofang.core.metrics.anomaly import anomaly_metrics, runs


def test_runs_split_at_segment_boundaries() -> None:
    mask = np.array([0, 1, 1, 0, 1, 1, 1, 0, 0, 1], dtype=bool)
    assert runs(mask) == [(1, 2), (4, 6), (9, 9)]
    segment = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    assert runs(mask, segment) == [(1, 2), (4, 4), (5, 6), (9, 9)]
    assert runs(np.zeros(0, dtype=bool)) == []


def test_events_detected_false_alarms_and_delay() -> None:
    truth = np.array([0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0])
    flags = np.array([0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0], dtype=bool)
    m = anomaly_metrics(truth, flags)
    assert (m["events"], m["events_detected"], m["alarms"], m["false_alarms"]) == (2, 1, 3, 2)
    assert m["event_recall"] == 0.5 and m["event_precision"] == pytest.approx(1 / 3)
    assert m["event_f1"] == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert m["detection_delay"] == 1.0  # first flag one reading after the event starts
    assert m["point_precision"] == pytest.approx(2 / 5) and m["point_recall"] == pytest.approx(2 / 5)
    assert m["false_alarm_rate"] == pytest.approx(3 / 9)


def test_repeated_alarms_inside_one_event_count_once() -> None:
    truth = np.array([0, 1, 1, 1, 1, 1, 0, 0])
    flags = np.array([0, 1, 0, 1, 0, 1, 0, 0], dtype=bool)
    m = anomaly_metrics(truth, flags)
    assert m["event_precision"] == 1.0 and m["event_f1"] == 1.0 and m["alarms"] == 3 and m["false_alarms"] == 0


def test_delay_in_seconds_from_timestamps() -> None:
    times = np.array(["2024-01-01T00:00:00", "2024-01-01T00:00:05", "2024-01-01T00:00:10",
                      "2024-01-01T00:00:20"], dtype="datetime64[ns]")
    m = anomaly_metrics(np.array([0, 1, 1, 1]), np.array([0, 0, 0, 1], dtype=bool), times)
    assert m["detection_delay"] == 2.0 and m["detection_delay_s"] == 15.0


def test_nothing_to_count_is_none_not_zero() -> None:
    quiet = anomaly_metrics(np.zeros(6, dtype=int), np.zeros(6, dtype=bool))
    assert quiet["event_recall"] is None and quiet["event_f1"] is None and quiet["event_precision"] is None
    assert quiet["false_alarm_rate"] == 0.0
    missed = anomaly_metrics(np.array([0, 1, 1, 0]), np.zeros(4, dtype=bool))
    assert missed["event_recall"] == 0.0 and missed["event_f1"] == 0.0 and missed["detection_delay"] is None
