"""Builders shared by the data workshop tests: orders over files and a realistic loans table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mofang.orders import Order, Source


def source(path: Path, **fields: object) -> Source:
    return Source.model_validate({"path": str(path), **fields})


def order_for(path: Path | list[Path], target: str = "default", task: str = "tabular-classification",
              **fields: object) -> Order:
    paths = path if isinstance(path, list) else [path]
    return Order.model_validate({"id": "loans-1", "tenant": "acme", "task": task, "target": target,
                                 "data": [{"path": str(p)} for p in paths], **fields})


def id_card(prefix17: str) -> str:
    """A valid GB 11643 ID number from 17 digits."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return prefix17 + "10X98765432"[sum(int(c) * w for c, w in zip(prefix17, weights, strict=True)) % 11]


def loans_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """A messy Chinese loans table: GBK-friendly headers, units, PII, an id, a leak and duplicates."""
    rng = np.random.default_rng(seed)
    income = rng.normal(12000, 4000, n).round(0)
    months = rng.choice([6, 12, 24, 36], n)
    city = rng.choice(["北京", "上海", "广州", "深圳"], n)
    risk = (income < 10000).astype(int) ^ (rng.random(n) < 0.15)
    frame = pd.DataFrame({
        "客户编号": [f"C{100000 + i}" for i in range(n)],
        "客户姓名": rng.choice(["张三", "李四", "王五", "赵六"], n),
        "身份证号": [id_card(f"1101051990{(i % 12) + 1:02d}{(i % 28) + 1:02d}{i % 1000:03d}") for i in range(n)],
        "手机号": [f"13{rng.integers(100000000, 999999999)}" for _ in range(n)],
        "月收入": [f"￥{v:,.0f}" for v in income],
        "期限": [f"{m}个月" for m in months],
        "城市": city,
        "申请日期": [f"2023年{(i % 12) + 1}月{(i % 28) + 1}日" for i in range(n)],
        "有房": rng.choice(["是", "否"], n),
        "渠道": "线上",
        "催收次数": [str(int(r) * 3 + int(rng.integers(0, 2))) for r in risk],
        "default": np.where(risk == 1, "是", "否"),
    })
    frame.loc[5, "default"] = ""
    return pd.concat([frame, frame.iloc[10:13]], ignore_index=True)
