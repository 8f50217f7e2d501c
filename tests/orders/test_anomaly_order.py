"""anomaly-detection orders: admitted, with their `anomaly:` section checked and clear errors for mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mofang.core.errors import OrderError
from mofang.core.tasks import registered
from mofang.orders import load_order, parse_order

VALID = """\
id: valve-watch
tenant: plant-7
task: anomaly-detection
data:
  - path: valve.csv
time_column: datetime
target: anomaly
anomaly:
  sensors: [Pressure, Current]
  window: 20
  false_alarm_rate: 0.005
  windows: labels/windows.json
acceptance:
  metrics:
    event_f1: ">= 0.6"
    detection_delay: "<= 30"
"""


def test_anomaly_order_parses_and_resolves_its_windows_file(tmp_path: Path) -> None:
    (tmp_path / "order.yaml").write_text(VALID, encoding="utf-8")
    order = load_order(tmp_path / "order.yaml")
    assert "anomaly-detection" in registered()
    assert order.anomaly is not None and order.anomaly.sensors == ["Pressure", "Current"]
    assert order.anomaly.window == 20 and order.anomaly.false_alarm_rate == 0.005
    assert order.anomaly.windows == tmp_path / "labels" / "windows.json"
    assert order.acceptance.metrics["detection_delay"].holds(12)


def test_unlabelled_anomaly_order_needs_no_target() -> None:
    order = parse_order("id: a\ntenant: t\ntask: anomaly-detection\ndata: {path: x.csv}\ntime_column: ts\n"
                        "acceptance: none\n")
    assert order.target is None and order.anomaly is None


@pytest.mark.parametrize(("change", "needle"), [
    (("time_column: datetime\n", ""), "needs 'time_column'"),
    (("target: anomaly\n", ""), "anomaly.windows needs 'target'"),
    (("    event_f1: \">= 0.6\"\n", "    event_f: \">= 0.6\"\n"), "did you mean 'event_f1'"),
    (("false_alarm_rate: 0.005", "false_alarm_rate: 0.7"), "false_alarm_rate"),
    (("window: 20", "window: 1"), "window"),
    (("sensors: [Pressure, Current]", "sensors: [Pressure, datetime]"), "anomaly.sensors names 'datetime'"),
    (("sensors: [Pressure, Current]", "sensors: []"), "anomaly.sensors is empty"),
    (("  window: 20\n", "  windw: 20\n"), "windw"),
])
def test_anomaly_order_mistakes_are_named(change: tuple[str, str], needle: str) -> None:
    text = VALID.replace(*change)
    assert text != VALID
    with pytest.raises(OrderError, match=needle.replace("[", r"\[").replace("(", r"\(")):
        parse_order(text)


def test_metrics_without_labels_are_refused() -> None:
    text = VALID.replace("target: anomaly\n", "").replace("  windows: labels/windows.json\n", "")
    with pytest.raises(OrderError, match="need 'target'"):
        parse_order(text)


def test_anomaly_section_belongs_to_anomaly_orders() -> None:
    with pytest.raises(OrderError, match="'anomaly' applies to anomaly-detection orders only"):
        parse_order("id: a\ntenant: t\ntask: tabular-classification\ndata: {path: x.csv}\ntarget: y\n"
                    "anomaly: {window: 5}\nacceptance: none\n")
