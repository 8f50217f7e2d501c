"""A regression order from an Excel sheet or an SQL table runs down the whole line and is served."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from mofang.line import run
from mofang.orders import load_order
from mofang.products.server import running_server
from mofang.scheduling.admission import admit as submit


def _flats(n: int = 900, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    area = rng.uniform(35, 160, n).round(1)
    district = rng.choice(["朝阳", "海淀", "东城", "通州", "大兴"], n)
    premium = pd.Series(district).map({"朝阳": 1.2, "海淀": 1.35, "东城": 1.5, "通州": 0.8, "大兴": 0.75})
    floor = rng.integers(1, 30, n)
    built = rng.integers(1990, 2022, n)
    price = area * 6.5 * premium.to_numpy() + 0.4 * floor + 1.5 * (built - 1990) + rng.normal(0, 25, n)
    return pd.DataFrame({"房屋编号": [f"H{i:05d}" for i in range(n)], "面积": [f"{a}㎡" for a in area],
                         "区县": district, "楼层": floor, "建成年份": built, "总价万元": price.round(1)})


@pytest.mark.slow
@pytest.mark.parametrize("source", ["xlsx", "sqlite"])
def test_regression_order_end_to_end(tmp_path, meta, source) -> None:
    flats = _flats()
    if source == "xlsx":
        flats.to_excel(tmp_path / "flats.xlsx", index=False, sheet_name="成交")
        data = "  - path: flats.xlsx\n"
    else:
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'crm.db'}")
        flats.to_sql("flats", engine, index=False)
        engine.dispose()
        data = f"  - url: sqlite:///{tmp_path / 'crm.db'}\n    query: SELECT * FROM flats WHERE 总价万元 > 0\n"
    order_file = tmp_path / "order.yaml"
    order_file.write_text(
        "id: flat-price\ntenant: realty\ntask: tabular-regression\ndata:\n" + data +
        "target: 总价万元\nid_column: 房屋编号\nacceptance:\n  metrics:\n    r2: '>= 0.8'\n"
        "budget:\n  minutes: 0.3\n", encoding="utf-8")
    job = run(submit(load_order(order_file), meta, source_file=order_file), meta=meta)
    assert job.status == "done", (job.error, job.outcome)
    assert job.outcome["metrics"]["r2"] >= 0.8 and job.outcome["metrics"]["rmse"] > 0
    version = meta.product_version("flat-price")
    with running_server(version) as url:
        answer = httpx.post(f"{url}/predict", json={"rows": [
            {"面积": "88.5㎡", "区县": "海淀", "楼层": 12, "建成年份": "2008"},
            {"面积": 60, "区县": "大兴", "楼层": "3", "建成年份": 1998}]}, timeout=30).json()
    high, low = answer["predictions"]
    assert isinstance(high, float) and high > low
    assert "probabilities" not in answer
