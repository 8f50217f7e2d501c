"""An anomaly-detection order over a semicolon-separated sensor export runs down the whole line and is served."""

from __future__ import annotations

import httpx

from mofang.line import run
from mofang.orders import load_order
from mofang.products.server import running_server
from mofang.scheduling.admission import admit as submit
from tests.tasks.anomaly.models.streams import sensor_stream

ORDER = """id: pump-watch
tenant: plant-7
task: anomaly-detection
data:
  - path: pump.csv
time_column: datetime
target: anomaly
anomaly:
  window: 8
  false_alarm_rate: 0.01
acceptance:
  metrics:
    event_recall: ">= 0.6"
  p95_latency_ms: 500
budget:
  minutes: 1
"""


def test_anomaly_order_end_to_end(tmp_path, meta) -> None:
    stream = sensor_stream()
    stream.to_csv(tmp_path / "pump.csv", sep=";", index=False)
    (tmp_path / "order.yaml").write_text(ORDER, encoding="utf-8")
    job = run(submit(load_order(tmp_path / "order.yaml"), meta, source_file=tmp_path / "order.yaml"), meta=meta)
    assert job.status == "done", (job.error, job.outcome)
    metrics = job.outcome["metrics"]
    assert metrics["event_recall"] >= 0.6 and metrics["events"] >= 1
    assert metrics["false_alarm_rate"] < 0.05 and metrics["detection_delay"] is not None

    version = meta.product_version("pump-watch")
    quiet = stream.iloc[:60].drop(columns=["anomaly"])
    faulty = quiet.copy()
    faulty.loc[40:, ["pressure", "flow"]] += [0.8, 3.2]  # the labelled kind of fault: both levels jump
    with running_server(version) as url:
        calm = httpx.post(f"{url}/score", json={"rows": quiet.to_dict(orient="records")}, timeout=30).json()
        alarm = httpx.post(f"{url}/score", json={"rows": faulty.to_dict(orient="records")}, timeout=30).json()
        bad = httpx.post(f"{url}/score", json={"rows": [{"pressure": "high", "temperature": 70, "flow": 30}]},
                         timeout=30)
        typo = httpx.post(f"{url}/score", json={"rows": [{"presure": 5.0}]}, timeout=30)
        late = httpx.post(f"{url}/score", json={"rows": [{**quiet.iloc[0].to_dict(), "datetime": "soon"}]},
                          timeout=30)
        meta_info = httpx.get(f"{url}/metadata", timeout=30).json()
    assert len(calm["scores"]) == len(calm["flags"]) == 60 and calm["window"] == 8
    assert calm["anomalies"] <= 2
    assert any(alarm["flags"][40:]) and max(alarm["scores"][40:]) > calm["threshold"]
    assert bad.status_code == 422 and "pressure" in bad.text
    assert typo.status_code == 422 and "presure" in typo.text
    assert late.status_code == 422 and "time column 'datetime'" in late.text
    assert meta_info["anomaly"]["sensors"] == ["pressure", "temperature", "flow"]
