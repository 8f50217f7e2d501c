"""The served request path kept cheap without losing anything: a row's values are read once (at validation)
and the model answers with the same numbers as from the raw rows and from a DataFrame; cheap batches run on
the event loop, slow ones in a worker thread; a remembered API key is checked without the thread pool; drift
windows are evaluated off the request path and still reported."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from mofang.integration.bundle import Bundle
from mofang.integration.edge import records_of
from mofang.integration.reference import build_reference
from mofang.models.registry import get_trainer
from mofang.products.batching import MicroBatcher
from mofang.products.monitoring import DriftMonitor
from mofang.products.server import running_app
from mofang.products.serving import _caller, _row_model, create_app
from tests.models.tabular_fixtures import classification_data, regression_data

ODD_ROWS = [  # values as clients write them: text numbers, percentages, Chinese booleans, other date forms
    {"x0": "1,234.5", "x1": "-0.3", "x2": "１２", "x3": None, "x4": "12%", "城市": " 上海 ", "channel": "NA",
     "signup": "2021/3/4", "vip": "是"},
    {"x0": None, "x1": 2, "x2": "n/a", "x3": "(1.5)", "x4": 0, "城市": "广州", "channel": "app",
     "signup": "20210701", "vip": "no"},
    {"x1": "0.1", "signup": "2021年7月1日 08:30", "vip": 1.0},
]


def _bundle(task: str, family: str, data: dict) -> Bundle:
    candidate, _ = get_trainer(task, family).fit(data["train"], data["valid"], data["dataset"], budget_s=3)
    schema = {"task": task, "target": data["dataset"]["target"], "features": data["dataset"]["features"],
              "ignored": []}
    return Bundle(path=Path("."), candidate=candidate, schema=schema,
                  metadata={"product": "p", "task": task, "target": schema["target"], "family": family,
                            "order_id": "o-1"})


@pytest.mark.parametrize(("task", "family"), [("tabular-classification", "lightgbm"),
                                              ("tabular-classification", "linear"),
                                              ("tabular-regression", "lightgbm")])
def test_one_row_requests_answer_with_the_numbers_of_the_raw_rows_and_of_a_dataframe(task, family) -> None:
    data = classification_data(n=500) if task.endswith("classification") else regression_data(n=500)
    bundle = _bundle(task, family, data)
    rows = records_of(data["test"].head(40), bundle.feature_names)
    rows += [{k: v for k, v in r.items() if k in bundle.feature_names} for r in ODD_ROWS]
    row_model = _row_model(bundle.schema, parsed=True)
    parsed = [row_model.model_validate(r).model_dump(by_alias=True) for r in rows]
    assert any(isinstance(v, float) for v in parsed[-3].values())  # read once: "1,234.5" is 1234.5 now
    frame = pd.DataFrame([{n: r.get(n) for n in bundle.feature_names} for r in rows], columns=bundle.feature_names)
    if bundle.is_classifier:
        expected = [[round(float(p), 6) for p in row] for row in bundle.candidate.predict_proba(frame)]
    else:
        expected = [float(v) for v in bundle.candidate.predict(frame)]
    with running_app(create_app(bundle, version=1)) as url, httpx.Client(base_url=url, timeout=30) as client:
        for raw, typed, want in zip(rows, parsed, expected, strict=True):
            served = client.post("/predict", json={"rows": [raw]}).json()
            assert served["predictions"] == bundle.predict_records([raw])["predictions"] \
                == bundle.predict_records([typed])["predictions"]
            if bundle.is_classifier:
                assert list(served["probabilities"][0].values()) == want
                assert served["probabilities"] == bundle.predict_records([raw])["probabilities"]
            else:
                assert served["predictions"][0] == pytest.approx(want, rel=1e-12)
        whole = client.post("/predict", json={"rows": rows}).json()  # the DataFrame path, many rows at once
        assert whole["predictions"] == bundle.predict_records(rows)["predictions"]


def test_cheap_batches_run_on_the_event_loop_and_slow_ones_in_a_worker_thread() -> None:
    threads: list[str] = []

    def cheap(records):
        threads.append(threading.current_thread().name)
        return {"predictions": [r["x"] for r in records]}

    def slow(records):
        threads.append(threading.current_thread().name)
        busy_until = time.thread_time() + 0.01  # 10 ms of CPU a call: over the inline budget
        while time.thread_time() < busy_until:
            pass
        return {"predictions": [r["x"] for r in records]}

    async def serve(predict, n: int) -> list:
        batcher = MicroBatcher(predict)
        first = await batcher.submit([{"x": -1}])  # measured in a worker thread
        answers = await asyncio.gather(*(batcher.submit([{"x": i}]) for i in range(n)))
        return [first, *answers]

    loop_thread = threading.current_thread().name
    answers = asyncio.run(serve(cheap, 20))
    assert [a["predictions"] for a in answers] == [[-1], *([i] for i in range(20))]
    assert threads[0] != loop_thread and set(threads[1:]) == {loop_thread}
    assert len(threads) < 21  # concurrent requests were still batched together
    threads.clear()
    asyncio.run(serve(slow, 3))
    assert loop_thread not in threads


def test_a_remembered_key_is_checked_on_the_event_loop() -> None:
    calls: list[str] = []

    def guard(key):
        calls.append(threading.current_thread().name)
        return {"user": "ana", "key": key}

    guard.remembered = lambda key: {"user": "ana", "key": key} if key == "mf_known" else None  # type: ignore
    check = _caller(guard)
    assert asyncio.run(check(authorization="Bearer mf_known", x_api_key=None)) == {"user": "ana", "key": "mf_known"}
    assert calls == []
    assert asyncio.run(check(authorization=None, x_api_key="mf_new"))["key"] == "mf_new"
    assert len(calls) == 1 and calls[0] != threading.current_thread().name  # verified in a worker thread
    assert asyncio.run(_caller(None)()) is None


def test_drift_windows_are_evaluated_off_the_request_path_and_still_reported() -> None:
    rng = np.random.default_rng(0)
    features = [{"name": "usage", "kind": "numeric"}]
    reference = build_reference(pd.DataFrame({"usage": rng.normal(0, 1, 1000)}), features, ["a"] * 1000,
                                task="tabular-classification", classes=["a", "b"], thresholds={"window_rows": 100})
    seen: list[dict] = []
    monitor = DriftMonitor(reference, features, product="p", on_result=seen.append, background=True)
    for value in rng.normal(3, 1, 250):
        monitor.observe([{"usage": float(value)}], ["b"])
    report = monitor.report()  # waits for the windows already full
    assert report["windows_completed"] == 2 and report["alarm"] and len(seen) == 2
    assert report["current_window"] == {"rows": 50}
