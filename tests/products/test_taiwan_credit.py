"""A real order on the Taiwan credit-default data (30k rows) passes an ROC-AUC gate of 0.76 within 45 s and is served.

The gate sits below what the line reaches when the machine is free (0.786 at 60 s in bench/tabular.py): the search is
time-boxed, so on two shared cores it ends after ~36 LightGBM trials at test ROC-AUC 0.767 (measured 2026-12-06,
the same figure before and after the task-package change), and after ~100 trials at 0.772. Quality against a
named peer is the benchmark's job; this test is that the line delivers a sound model on real data in budget."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from mofang.line import run
from mofang.orders import load_order
from mofang.products.server import running_server
from mofang.scheduling.admission import admit as submit
from tests.conftest import shared_dataset
from tests.timing import allowed_s, load_factor


@pytest.mark.slow
def test_taiwan_credit_default_order(tmp_path, meta) -> None:
    data = shared_dataset("tabular/taiwan_credit_default.csv")
    order_file = tmp_path / "order.yaml"
    # 45 s of a quiet machine's work: on a shared one the budget grows with the load (at most 3×), so the score bar
    # tests the search, not the neighbours
    minutes = round(0.75 * min(load_factor(), 3.0), 2)
    order_file.write_text(
        f"id: taiwan-default\ntenant: bank-tw\ntask: tabular-classification\ndata:\n  - path: {data}\n"
        "target: default.payment.next.month\nid_column: ID\nacceptance:\n  metrics:\n"
        '    roc_auc: ">= 0.76"\nbudget:\n' f"  minutes: {minutes}\n", encoding="utf-8")
    job = run(submit(load_order(order_file), meta, source_file=order_file), meta=meta)
    assert job.status == "done", job.outcome
    assert job.outcome["metrics"]["roc_auc"] >= 0.76
    assert job.elapsed_s <= allowed_s(minutes * 60 * 1.1 + 5)  # budget honoured (small slack for start-up)
    frame = pd.read_csv(data, nrows=3, dtype=str, keep_default_na=False)
    rows = frame.drop(columns=["default.payment.next.month"]).to_dict(orient="records")
    with running_server(meta.product_version("taiwan-default")) as url:
        answer = httpx.post(f"{url}/predict", json={"rows": rows}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3
