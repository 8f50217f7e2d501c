"""Synthetic typed datasets (the data workshop's output contract), orders, and station runs for tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification, make_regression

from mofang.orders.schema import Order


def _frame(X: np.ndarray, seed: int) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    rng = np.random.default_rng(seed)
    n = len(X)
    df = pd.DataFrame({f"x{i}": X[:, i] for i in range(X.shape[1])})
    df.loc[rng.random(n) < 0.05, "x0"] = np.nan
    # a categorical that carries signal (bucketed x1) plus a noisy one with missing values
    df["城市"] = pd.cut(X[:, 1], bins=[-np.inf, -0.5, 0.5, np.inf], labels=["北京", "上海", "深圳"]).astype(object)
    df["channel"] = pd.Series(rng.choice(["web", "app", "shop", None], n), dtype=object)
    df["signup"] = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    df.loc[rng.random(n) < 0.03, "signup"] = pd.NaT
    df["vip"] = rng.integers(0, 2, n).astype(float)
    features = ([{"name": f"x{i}", "kind": "numeric"} for i in range(X.shape[1])]
                + [{"name": "城市", "kind": "categorical"}, {"name": "channel", "kind": "categorical"},
                   {"name": "signup", "kind": "datetime"}, {"name": "vip", "kind": "boolean"}])
    return df, features


def _split(df: pd.DataFrame, task: str, target: str, features: list[dict[str, str]],
           classes: list[str] | None) -> dict[str, Any]:
    df.insert(0, "row_id", np.arange(len(df)))
    n = len(df)
    a, b = int(n * 0.6), int(n * 0.8)
    train, valid, test = (df.iloc[:a].reset_index(drop=True), df.iloc[a:b].reset_index(drop=True),
                          df.iloc[b:].reset_index(drop=True))
    dataset = {"digest": "sha256:test", "path": "x.parquet", "task": task, "target": target,
               "id_column": "row_id", "features": features, "classes": classes,
               "rows": {"train": len(train), "valid": len(valid), "test": len(test)},
               "dropped": [{"name": "phone", "reason": "PII: phone numbers"}]}
    return {"dataset": dataset, "train": train, "valid": valid, "test": test}


def classification_data(n: int = 900, n_classes: int = 2, seed: int = 0) -> dict[str, Any]:
    X, y = make_classification(n_samples=n, n_features=5, n_informative=3, n_redundant=1,
                               n_classes=n_classes, n_clusters_per_class=1, random_state=seed)
    df, features = _frame(X, seed)
    names = ["no", "yes"] if n_classes == 2 else [f"类{i}" for i in range(n_classes)]
    df["label"] = np.asarray(names, dtype=object)[y]
    return _split(df, "tabular-classification", "label", features, sorted(names))


def regression_data(n: int = 900, seed: int = 0) -> dict[str, Any]:
    X, y = make_regression(n_samples=n, n_features=5, n_informative=4, noise=10.0, random_state=seed)
    df, features = _frame(X, seed)
    df["price"] = y + 30 * (df["城市"] == "深圳")
    return _split(df, "tabular-regression", "price", features, None)


def make_order(task: str = "tabular-classification", target: str = "label", minutes: float = 0.22,
               **acceptance: Any) -> Order:
    return Order.model_validate({"id": "o-1", "tenant": "acme", "task": task, "data": [{"path": "x.csv"}],
                                 "target": target, "id_column": "row_id", "acceptance": acceptance,
                                 "budget": {"minutes": minutes}})


def stage(ctx: Any, data: dict[str, Any]) -> Any:
    """Save what the earlier stations would have saved (dataset, train, valid, test) into `ctx`."""
    for name, value in data.items():
        ctx.save(name, value)
    return ctx


def run_station(station: Any, ctx: Any) -> dict[str, str]:
    """Run every process of a station in order, as the line would; return their summaries."""
    summaries = {}
    for process in station.processes:
        ctx.process = process
        summaries[process] = getattr(station, process)(ctx)
    return summaries
