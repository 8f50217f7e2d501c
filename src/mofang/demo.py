"""The bundled demo: a seeded, synthetic and deliberately messy loan book (GBK CSV) and its order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰")
CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "长沙", "郑州", "沈阳"]
EDUCATION = ["高中", "大专", "本科", "硕士", "博士"]
JOBS = ["制造业", "IT", "教育", "医疗", "零售", "金融", "公务员", "个体户", "自由职业"]
_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_ID_CHECK = "10X98765432"

ORDER_TEMPLATE = """\
# Demo order: predict loan default from a synthetic, messy GBK loan book.
id: loan-default-demo
tenant: demo-bank
task: tabular-classification
description: 个人消费贷违约预测 (synthetic demo data)
data:
  - path: loan_book_gbk.csv
target: 是否违约
id_column: 借款编号
columns:
  deny: [客户备注]
acceptance:
  metrics:
    roc_auc: ">= 0.75"
    f1_macro: ">= 0.60"
  p95_latency_ms: 50
  max_model_mb: 50
deployment:
  target: cloud
budget:
  minutes: {minutes}
"""


def _id_card(rng: np.random.Generator, birth: pd.Timestamp) -> str:
    body = f"{rng.choice([110101, 310104, 440106, 330106, 510107]):06d}{birth:%Y%m%d}{rng.integers(0, 1000):03d}"
    check = _ID_CHECK[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    return body + check


def _messy_money(rng: np.random.Generator, yuan: float) -> str:
    style = rng.integers(0, 4)
    if style == 0:
        return f"￥{yuan / 10_000:.2f}万"
    if style == 1:
        return f"{yuan:,.0f}"
    if style == 2:
        return f"{yuan:.0f}元"
    return f"{yuan:.0f}"


def _messy_date(rng: np.random.Generator, day: pd.Timestamp) -> str:
    return [f"{day:%Y-%m-%d}", f"{day.year}/{day.month}/{day.day}", f"{day.year}年{day.month}月{day.day}日",
            f"{day:%Y%m%d}"][rng.integers(0, 4)]


def loan_book(rows: int = 6000, seed: int = 7) -> pd.DataFrame:
    """A synthetic loan book with PII, mixed formats, gaps, duplicates and a planted leakage column."""
    rng = np.random.default_rng(seed)
    age = rng.integers(21, 65, rows)
    income = np.round(np.exp(rng.normal(9.1, 0.5, rows)), -1)
    education = rng.choice(EDUCATION, rows, p=[0.15, 0.3, 0.38, 0.13, 0.04])
    loan = np.round(income * rng.uniform(2, 12, rows), -2)
    term = rng.choice([6, 12, 24, 36], rows)
    rate = np.round(rng.uniform(0.06, 0.24, rows), 4)
    dti = np.round(rng.beta(2, 4, rows), 3)
    overdue = rng.poisson(0.5, rows)
    city = rng.choice(CITIES, rows)
    job = rng.choice(JOBS, rows)
    applied = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, rows), unit="D")
    edu_rank = pd.Series(education).map({e: i for i, e in enumerate(EDUCATION)}).to_numpy()
    score = (4.0 * dti + 0.8 * overdue + 12.0 * (rate - 0.15) - 0.35 * edu_rank + 0.5 * np.log(loan / income)
             - 0.02 * (age - 40) + 0.5 * np.isin(job, ["个体户", "自由职业"]))
    logit = 1.8 * score - 4.8 + rng.normal(0, 0.35, rows)  # ~35% default; an oracle reaches ROC-AUC ~0.88
    default = rng.random(rows) < 1 / (1 + np.exp(-logit))
    births = [pd.Timestamp(f"{2023 - a}-01-01") + pd.Timedelta(days=int(rng.integers(0, 365))) for a in age]
    frame = pd.DataFrame({
        "借款编号": [f"LN{2023_000_000 + i}" for i in range(rows)],
        "客户姓名": [rng.choice(SURNAMES) + "".join(rng.choice(GIVEN, rng.integers(1, 3))) for _ in range(rows)],
        "身份证号": [_id_card(rng, b) for b in births],
        "手机号": [f"1{rng.choice([3, 5, 7, 8, 9])}{rng.integers(0, 10**9):09d}" for _ in range(rows)],
        "年龄": [f"{a}岁" if rng.random() < 0.1 else str(a) for a in age],
        "城市": [f" {c} " if rng.random() < 0.05 else c for c in city],
        "学历": education,
        "职业": job,
        "月收入": [_messy_money(rng, v) for v in income],
        "贷款金额": [_messy_money(rng, v) for v in loan],
        "期限": [f"{t}个月" if rng.random() < 0.5 else str(t) for t in term],
        "年利率": [f"{r * 100:.2f}%" for r in rate],
        "负债收入比": dti.astype(str),
        "历史逾期次数": overdue.astype(str),
        "申请日期": [_messy_date(rng, d) for d in applied],
        "客户备注": rng.choice(["", "老客户", "转介绍", "线上申请"], rows),
        # Planted leakage: collections only start after a default, so this encodes the target.
        "催收状态": np.where(default ^ (rng.random(rows) < 0.01), "已催收", "正常"),
        "是否违约": np.where(default, "是", "否"),
    })
    for column, share in (("月收入", 0.04), ("学历", 0.03), ("负债收入比", 0.05), ("年龄", 0.02)):
        frame.loc[rng.random(rows) < share, column] = ""
    duplicates = frame.sample(frac=0.02, random_state=seed)
    return pd.concat([frame, duplicates], ignore_index=True).sample(frac=1.0, random_state=seed)


def write_demo(folder: Path, *, rows: int = 6000, minutes: float = 1.0, seed: int = 7) -> Path:
    """Write the GBK loan book and its order into `folder`; return the order path."""
    folder.mkdir(parents=True, exist_ok=True)
    loan_book(rows, seed).to_csv(folder / "loan_book_gbk.csv", index=False, encoding="gbk")
    order = folder / "order.yaml"
    order.write_text(ORDER_TEMPLATE.format(minutes=minutes), encoding="utf-8")
    return order
