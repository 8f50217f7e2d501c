"""A tiny tabular classification order for the product engineering tests: data, order file, a run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

ORDER_ID, TENANT, TARGET = "churn-mini", "acme", "churned"


def churn_frame(n: int = 700, seed: int = 0, shift: bool = False) -> pd.DataFrame:
    """Customers with a numeric usage, a tenure, a plan category and a churn label that depends on them.
    `shift` moves usage up by two standard deviations and the plans towards 'pro' (a drifted population)."""
    rng = np.random.default_rng(seed)
    usage = rng.normal(50, 10, n) + (20 if shift else 0)
    tenure = rng.integers(1, 60, n)
    plans = ["basic", "plus", "pro"]
    plan = rng.choice(plans, n, p=[0.1, 0.2, 0.7] if shift else [0.5, 0.3, 0.2])
    score = -0.08 * (usage - 50) - 0.05 * (tenure - 30) + np.where(plan == "basic", 0.8, -0.4)
    churned = np.where(score + rng.normal(0, 0.7, n) > 0, "yes", "no")
    return pd.DataFrame({"customer": [f"C{seed}-{i:05d}" for i in range(n)], "usage": usage.round(2),
                         "tenure": tenure, "plan": plan, TARGET: churned})


def write_order(folder: Path, *, rows: int = 700, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    churn_frame(rows).to_csv(folder / "churn.csv", index=False)
    order = folder / "order.yaml"
    order.write_text(f"id: {ORDER_ID}\ntenant: {TENANT}\ntask: tabular-classification\ndata:\n  - path: churn.csv\n"
                     f"target: {TARGET}\nid_column: customer\nacceptance:\n  metrics:\n    roc_auc: '>= 0.6'\n"
                     f"budget:\n  minutes: 0.25\n{extra}", encoding="utf-8")
    return order


@contextmanager
def mofang_home(home: Path) -> Iterator[Path]:
    """MOFANG_HOME set to `home` (SQLite inside) for a module's fixtures; restored afterwards."""
    old = {k: os.environ.get(k) for k in ("MOFANG_HOME", "MOFANG_DB_URL")}
    os.environ["MOFANG_HOME"] = str(home)
    os.environ.pop("MOFANG_DB_URL", None)
    try:
        yield home
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_order(order_file: Path, meta):
    """Submit and run an order in the foreground; returns the finished job."""
    from mofang.line import run
    from mofang.orders import load_order
    from mofang.scheduling.admission import admit as submit

    return run(submit(load_order(order_file), meta, source_file=order_file), meta=meta)
