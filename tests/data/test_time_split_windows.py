"""Labelled anomaly windows (NAB-style JSON) become the order's label column at ingest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mofang.core.errors import DataError
from mofang.data import DataWorkshop
from mofang.orders import parse_order

ORDER = """
id: nab-like
tenant: plant-7
task: anomaly-detection
data:
  - path: {a}
  - path: {b}
time_column: timestamp
target: anomaly
anomaly: {{windows: {windows}, window: 4}}
acceptance: none
"""


def _series(path: Path, start: str, n: int = 60) -> None:
    stamps = pd.date_range(start, periods=n, freq="5min")
    pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"), "value": range(n)}).to_csv(path, index=False)


def test_windows_label_each_source_by_its_file_name(tmp_path: Path, make_ctx) -> None:
    _series(tmp_path / "a.csv", "2024-01-01")
    _series(tmp_path / "b.csv", "2024-02-01")
    windows = {"realKnownCause/a.csv": [["2024-01-01 01:00:00.000000", "2024-01-01 01:30:00.000000"]],
               "realKnownCause/b.csv": [["2024-02-01 02:00:00", "2024-02-01 02:10:00"]],
               "realKnownCause/c.csv": [["2024-01-01 00:00:00", "2024-12-31 00:00:00"]]}
    (tmp_path / "windows.json").write_text(json.dumps(windows), encoding="utf-8")
    order = parse_order(ORDER.format(a=tmp_path / "a.csv", b=tmp_path / "b.csv", windows=tmp_path / "windows.json"))
    ctx = make_ctx(order, station="data")
    summary = DataWorkshop().ingest(ctx)
    raw = ctx.load("raw")
    assert "120 rows" in summary and raw["anomaly"].sum() == 7 + 3  # 01:00–01:30 every 5 min; 02:00–02:10
    assert any("labelled 10 of 120 readings anomalous from 2 windows" in r for r in ctx.record.reasons)


def test_bad_windows_files_are_named(tmp_path: Path, make_ctx) -> None:
    _series(tmp_path / "a.csv", "2024-01-01")
    _series(tmp_path / "b.csv", "2024-02-01")
    cases = [({"x/other.csv": []}, "lists no windows for 'a.csv'"),
             ([["2024-01-01 02:00", "2024-01-01 01:00"]], "window 1 ends before it starts"),
             ([["2024-01-01 02:00"]], r"window 1 is \['2024-01-01 02:00'\]; write \[start, end\]"),
             ([["never", "2024-01-01 01:00"]], "does not read as two times")]
    for content, needle in cases:
        (tmp_path / "windows.json").write_text(json.dumps(content), encoding="utf-8")
        order = parse_order(ORDER.format(a=tmp_path / "a.csv", b=tmp_path / "b.csv",
                                         windows=tmp_path / "windows.json"))
        with pytest.raises(DataError, match=needle):
            DataWorkshop().ingest(make_ctx(order, station="data"))
