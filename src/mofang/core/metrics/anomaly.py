"""Event-level anomaly metrics (NAB-style windows): detected events, false alarms, detection delay; point metrics."""

from __future__ import annotations

from typing import Any

import numpy as np

Event = tuple[int, int]  # first and last position (inclusive) of a run of anomalous readings


def runs(mask: np.ndarray, segment: np.ndarray | None = None) -> list[Event]:
    """Runs of True in `mask` as (start, end) positions; a run never spans a segment boundary."""
    mask = np.asarray(mask, dtype=bool)
    if segment is None or not len(mask):
        return _runs(mask, 0)
    segment = np.asarray(segment)
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(segment) != 0) + 1, [len(mask)]])
    return [run for a, b in zip(bounds[:-1], bounds[1:], strict=True) for run in _runs(mask[a:b], int(a))]


def _runs(mask: np.ndarray, offset: int) -> list[Event]:
    edges = np.diff(mask.astype(int), prepend=0, append=0)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [(int(a) + offset, int(b) + offset) for a, b in zip(starts, ends, strict=True)]


def anomaly_metrics(truth: np.ndarray, flags: np.ndarray, times: np.ndarray | None = None,
                    segment: np.ndarray | None = None) -> dict[str, Any]:
    """Event and point metrics of `flags` against 0/1 `truth` over readings in time order.

    An event (a run of anomalous readings) is detected when any reading inside it is flagged; its delay is the
    number of readings from its start to the first flag (and seconds when `times` are timestamps). A predicted
    event (a run of flags) is a false alarm when it touches no true event. Event precision is detected events over
    detected events plus false alarms (so alarms repeated inside one event do not inflate it); measures with
    nothing to count are None."""
    truth = np.asarray(truth).astype(int) == 1
    flags = np.asarray(flags, dtype=bool)
    true_events, predicted = runs(truth, segment), runs(flags, segment)
    delays, delays_s = [], []
    detected = 0
    for start, end in true_events:
        hits = np.flatnonzero(flags[start:end + 1])
        if len(hits):
            detected += 1
            delays.append(int(hits[0]))
            if times is not None:
                delays_s.append(_seconds(times[start + hits[0]], times[start]))
    false_alarms = sum(1 for start, end in predicted if not truth[start:end + 1].any())
    recall = detected / len(true_events) if true_events else None
    # several alarms inside one true event count once: precision = detected / (detected + false alarms)
    precision = detected / (detected + false_alarms) if detected + false_alarms else None
    if recall is None:
        f1 = None
    elif not recall or not precision:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    tp = int(np.sum(truth & flags))
    point_precision = tp / int(flags.sum()) if flags.any() else None
    point_recall = tp / int(truth.sum()) if truth.any() else None
    point_f1 = (2 * point_precision * point_recall / (point_precision + point_recall)
                if point_precision and point_recall else (0.0 if point_recall is not None else None))
    normal = ~truth
    return {"event_f1": f1, "event_precision": precision, "event_recall": recall,
            "detection_delay": float(np.mean(delays)) if delays else None,
            "detection_delay_s": float(np.mean(delays_s)) if delays_s else None,
            "point_f1": point_f1, "point_precision": point_precision, "point_recall": point_recall,
            "false_alarm_rate": float(np.mean(flags[normal])) if normal.any() else None,
            "events": len(true_events), "events_detected": detected, "alarms": len(predicted),
            "false_alarms": false_alarms}


def _seconds(later: Any, earlier: Any) -> float:
    try:
        delta = np.datetime64(later, "ns") - np.datetime64(earlier, "ns")
        return float(delta / np.timedelta64(1, "s"))
    except (TypeError, ValueError):
        return float(later) - float(earlier)
