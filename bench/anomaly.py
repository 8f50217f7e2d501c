"""Benchmark: sensor anomaly detection, Mofang vs an isolation-forest baseline, event-level (NAB-style windows).

Data (../shared/datasets/timeseries, see its README): SKAB valve1 (16 semicolon-separated pump experiments,
8 sensors, `anomaly` labels; stacked in time order) and NAB realKnownCause (7 single-value series, anomaly windows
from combined_windows.json turned into 0/1 labels). Each stream is split by time as the line splits it: the
earliest 70% train, the next 15% valid, the latest 15% test; nothing is shuffled.

- Mofang: the anomaly task's workshop code as the line runs it (`mofang.tasks.anomaly.models.fit_detectors` + `choose`):
  window features, four detector families fitted on normal training readings (or labelled ones), thresholds
  calibrated to 1% false alarms on valid normal readings, the family with the best valid event F1 chosen.
- Peer: scikit-learn's IsolationForest with its defaults (contamination="auto", 100 trees, seed 0) fitted on the
  training readings' raw sensor values; its own -1 predictions are the flags. A second row gives the same forest
  the threshold calibration Mofang uses (1% of normal valid readings flagged), to separate what calibration
  adds from what window features and detector selection add. Seconds: fit and score (the peer's two rows share one
  forest).

Both are scored on test with `mofang.core.metrics.anomaly` (an event = a run of labelled readings; detected
when any reading in it is flagged; a run of flags touching no event is a false alarm; precision = detected /
(detected + false alarms); delay = readings from the event start to the first flag). NAB figures pool the counts
of its 7 series.

    .venv/bin/python bench/anomaly.py
"""

from __future__ import annotations

import json
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets" / "timeseries"
WINDOW, RATE, SEED = 10, 0.01, 42
PEER = "IsolationForest (sklearn defaults)"
PEER_CALIBRATED = "IsolationForest, threshold at 1% valid false alarms"


def skab() -> list[tuple[str, pd.DataFrame, list[str]]]:
    folder = SHARED / "skab-valve1"
    files = sorted((p for p in folder.glob("*.csv") if p.stem.isdigit()), key=lambda p: int(p.stem))
    frame = pd.concat([pd.read_csv(p, sep=";") for p in files], ignore_index=True)
    frame["datetime"] = pd.to_datetime(frame["datetime"])
    frame = frame.sort_values("datetime", kind="stable").reset_index(drop=True)
    sensors = [c for c in frame.columns if c not in ("datetime", "anomaly", "changepoint")]
    return [("valve1", frame.rename(columns={"datetime": "time"}), sensors)]


def nab() -> list[tuple[str, pd.DataFrame, list[str]]]:
    folder = SHARED / "nab"
    windows = json.loads((folder / "combined_windows.json").read_text(encoding="utf-8"))
    out = []
    for key, spans in sorted(windows.items()):
        if not key.startswith("realKnownCause/"):
            continue
        frame = pd.read_csv(folder / Path(key).name)
        frame["time"] = pd.to_datetime(frame["timestamp"])
        frame["anomaly"] = 0
        for start, end in spans:
            frame.loc[frame["time"].between(pd.Timestamp(start), pd.Timestamp(end)), "anomaly"] = 1
        out.append((Path(key).stem, frame[["time", "value", "anomaly"]], ["value"]))
    return out


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from mofang.data.split import split_by_time

    parts = split_by_time(frame["time"], "time")
    return tuple(frame.iloc[p].reset_index(drop=True) for p in (parts.train, parts.valid, parts.test))  # type: ignore[return-value]


def mofang_flags(train: pd.DataFrame, valid: pd.DataFrame, test: pd.DataFrame,
                 sensors: list[str]) -> tuple[np.ndarray, str]:
    from mofang.tasks.anomaly.models import choose, fit_detectors

    info = {"sensors": sensors, "window": WINDOW, "false_alarm_rate": RATE, "label": "anomaly", "time_column": "time"}
    fitted, _ = fit_detectors(train, valid, info, seed=SEED)
    best, _ = choose([(f.model.family, f.valid_metrics) for f in fitted], "event_f1", "higher", labelled=True)
    model = fitted[best].model
    return model.score_frame(test)["flags"], model.family


def baseline_flags(train: pd.DataFrame, valid: pd.DataFrame, test: pd.DataFrame,
                   sensors: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The forest's own flags, and flags at a threshold calibrated like Mofang's (1% of normal valid readings)."""
    from sklearn.ensemble import IsolationForest

    from mofang.tasks.anomaly.models import calibrated_threshold

    forest = IsolationForest(random_state=0, n_jobs=1).fit(train[sensors].to_numpy(dtype=float))
    test_x = test[sensors].to_numpy(dtype=float)
    normal = valid["anomaly"].to_numpy() == 0
    threshold = calibrated_threshold(-forest.score_samples(valid[sensors].to_numpy(dtype=float))[normal], RATE)
    return forest.predict(test_x) == -1, -forest.score_samples(test_x) >= threshold


def score(test: pd.DataFrame, flags: np.ndarray) -> dict:
    from mofang.core.metrics.anomaly import anomaly_metrics
    from mofang.tasks.anomaly.models.features import segments

    return anomaly_metrics(test["anomaly"].to_numpy(), flags, test["time"].to_numpy(),
                           segments(test["time"], len(test)))


def pooled(results: list[dict]) -> dict:
    """Event figures over several series: counts summed, delay averaged over every detected event."""
    events = sum(r["events"] for r in results)
    detected = sum(r["events_detected"] for r in results)
    false_alarms = sum(r["false_alarms"] for r in results)
    recall = detected / events if events else float("nan")
    precision = detected / (detected + false_alarms) if detected + false_alarms else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
    delays = [r["detection_delay"] * r["events_detected"] for r in results if r["detection_delay"] is not None]
    normal = [(r["false_alarm_rate"], r) for r in results if r["false_alarm_rate"] is not None]
    return {"event_f1": f1, "event_precision": precision, "event_recall": recall, "events": events,
            "detected": detected, "false_alarms": false_alarms,
            "delay": sum(delays) / detected if detected else float("nan"),
            "far": float(np.mean([f for f, _ in normal])) if normal else float("nan")}


def main() -> None:
    rows = []
    for name, streams in (("SKAB valve1", skab()), ("NAB realKnownCause", nab())):
        ours, peer, tuned, chosen = [], [], [], []
        seconds = {"mofang": 0.0, "peer": 0.0}
        for series, frame, sensors in streams:
            train, valid, test = split(frame)
            started = time.perf_counter()
            flags, family = mofang_flags(train, valid, test, sensors)
            seconds["mofang"] += time.perf_counter() - started
            ours.append(score(test, flags))
            chosen.append(f"{series}: {family}")
            started = time.perf_counter()
            own, calibrated = baseline_flags(train, valid, test, sensors)
            seconds["peer"] += time.perf_counter() - started
            peer.append(score(test, own))
            tuned.append(score(test, calibrated))
        for label, results, key in (("Mofang", ours, "mofang"), (PEER, peer, "peer"),
                                    (PEER_CALIBRATED, tuned, "peer")):
            rows.append({"data": name, "method": label, **pooled(results), "seconds": seconds[key]})
        print(f"{name}: Mofang chose " + "; ".join(chosen))
    print(f"\nbench/anomaly.py · {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()}, "
          f"{os.cpu_count()} CPUs · window {WINDOW}, false-alarm target {RATE:.0%} (Mofang)\n")
    print("| data | method | event F1 | event precision | event recall | events detected | false alarms | "
          "mean delay (readings) | point false-alarm rate | fit+score s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    by_data: dict[str, dict] = {}
    for r in rows:
        by_data.setdefault(r["data"], {})[r["method"]] = r
        print(f"| {r['data']} | {r['method']} | {r['event_f1']:.3f} | {r['event_precision']:.3f} | "
              f"{r['event_recall']:.3f} | {r['detected']}/{r['events']} | {r['false_alarms']} | {r['delay']:.1f} | "
              f"{r['far']:.3f} | {r['seconds']:.1f} |")
    print()
    for data, methods in by_data.items():
        ours = methods["Mofang"]
        for peer in (PEER, PEER_CALIBRATED):
            f1 = methods[peer]["event_f1"]
            ratio = f"{ours['event_f1'] / f1:.2f}" if f1 else "inf (the peer detects no event)"
            print(f"{data}: event F1 ratio Mofang / {peer} = {ratio}")


if __name__ == "__main__":
    main()
