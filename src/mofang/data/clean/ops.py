"""Clean-process operators: coerce values to their kind, canonical categories, outliers, missing values."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import Field

from mofang.data.clean.frames import to_frame, to_table
from mofang.data.labels import class_labels, regression_values
from mofang.data.missing import MISSING
from mofang.data.ops import ROW, OpContext, Operator, OpParams, OpTrace, register
from mofang.data.types import coerce

EXAMPLES = 5


class CoerceParams(OpParams):
    pass


@register
class CoerceValues(Operator):
    """Every column into its profiled kind: numbers with units and 万/亿, mixed date formats, booleans."""

    name = "clean.coerce"
    process = "clean"
    description = "parse numbers (units, %, 万/亿), dates (mixed formats), booleans; unparsable values → missing"
    Params = CoerceParams

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        frame = to_frame(table)
        names = self.target_columns(table, ctx, ("numeric", "categorical", "text", "datetime", "boolean",
                                                "identifier"))
        unparsable: dict[str, dict] = {}
        for name in names:
            kind = "identifier" if name == ctx.id_column else ctx.kinds[name]
            values = coerce(frame[name], kind, dayfirst=ctx.dayfirst.get(name))
            lost = _present(frame[name]) & values.isna()
            if lost.any():
                examples = [str(v) for v in frame[name][lost].unique()[:EXAMPLES]]
                unparsable[name] = {"count": int(lost.sum()), "kind": kind, "examples": examples}
            trace.change(name, int(lost.sum()))  # a value lost is the change that matters; '12' → 12.0 is not
            frame[name] = values
        if ctx.target and ctx.target in frame.columns:
            classification = ctx.classes
            before = frame[ctx.target]
            frame[ctx.target] = class_labels(before) if classification else regression_values(before)
            trace.change(ctx.target, int((_present(before) & frame[ctx.target].isna()).sum()))
        trace.details["unparsable"] = unparsable
        if unparsable:
            trace.details["note"] = "values that did not parse became missing in " + ", ".join(unparsable)
        return to_table(frame)


class CategoriesParams(OpParams):
    rare_share: float = Field(0.2, gt=0, le=1, description="a spelling merged must be this much rarer")
    case: bool = Field(True, description="merge spellings that differ only in letter case")


@register
class CanonicalCategories(Operator):
    """One spelling per category: case, spacing and near-identical variants folded into the common one."""

    name = "clean.categories"
    process = "clean"
    description = "fold case/spacing variants and rare one-typo spellings into the frequent one"
    Params = CategoriesParams

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        params: CategoriesParams = self.params  # type: ignore[assignment]
        frame = to_frame(table)
        merged: dict[str, dict[str, str]] = {}
        columns = self.target_columns(table, ctx, ("categorical",))
        if ctx.target and ctx.target in frame.columns and ctx.classes:
            columns.append(ctx.target)
        for name in columns:
            mapping = canonical_spellings(frame[name], params.rare_share, params.case)
            if not mapping:
                continue
            values = frame[name].map(lambda v, m=mapping: m.get(v, v) if v is not None else None)
            trace.change(name, int(_changed(frame[name], values).sum()))
            frame[name] = values
            merged[name] = mapping  # at most a few hundred spellings: categories are capped at 500
        trace.details["merged"] = merged
        if merged:
            trace.details["note"] = f"spellings folded in {len(merged)} columns"
        return to_table(frame)


def canonical_spellings(values: pd.Series, rare_share: float, case: bool) -> dict[str, str]:
    """Rare spelling → the frequent spelling it stands for (case/space variants, near-identical text)."""
    counts = values.dropna().astype(str).value_counts()
    if len(counts) < 2 or len(counts) > 500:
        return {}
    mapping: dict[str, str] = {}
    if case:
        keys = counts.index.str.lower().str.replace(r"[\s_\-]+", "", regex=True)
        for _, group in counts.groupby(keys.to_numpy()):
            if len(group) > 1:
                head = group.idxmax()
                mapping.update({v: head for v in group.index if v != head})
    frequent = [v for v in counts.index if v not in mapping]
    for value in reversed(frequent):  # rarest first
        if counts[value] > rare_share * counts.iloc[0] or len(value) < 5:
            continue
        for other in frequent:
            if other == value or other in mapping or counts[other] * rare_share < counts[value]:
                continue
            if _one_typo_apart(value, other):
                mapping[value] = other
                break
    return {k: _final(mapping, k) for k in mapping}


def _one_typo_apart(a: str, b: str) -> bool:
    """One insertion, deletion, substitution or swap of neighbours apart — never on a digit (codes like
    A1/A2 are different categories)."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    start = 0
    while start < min(len(a), len(b)) and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a, end_b = end_a - 1, end_b - 1
    da, db = a[start:end_a], b[start:end_b]
    if any(c.isdigit() for c in da + db):
        return False
    return len(da) <= 1 and len(db) <= 1 or (len(da) == len(db) == 2 and da == db[::-1])


def _present(values: pd.Series) -> pd.Series:
    """Values that are there: not null and not a missing spelling such as 'n/a' or '无'."""
    text = values.astype(object).map(lambda v: v.strip() if isinstance(v, str) else v)
    return values.notna() & ~text.isin(MISSING)


def _final(mapping: dict[str, str], key: str) -> str:
    seen = {key}
    while mapping.get(key) is not None and mapping[key] not in seen:
        key = mapping[key]
        seen.add(key)
    return key


class OutlierParams(OpParams):
    method: Literal["iqr", "mad"] = "iqr"
    factor: float = Field(3.0, gt=0, description="IQR multiple (iqr) or robust z (mad) beyond which a value "
                                                 "is an outlier")
    action: Literal["flag", "clip", "drop"] = "flag"


@register
class NumericOutliers(Operator):
    """Numeric values far outside the bulk: flagged (default), clipped to the fence, or their rows dropped."""

    name = "clean.outliers"
    process = "clean"
    description = "flag/clip/drop numeric outliers by IQR fences or robust z-score"
    Params = OutlierParams

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        params: OutlierParams = self.params  # type: ignore[assignment]
        frame = to_frame(table)
        found: dict[str, dict] = {}
        drop = np.zeros(len(frame), dtype=bool)
        for name in self.target_columns(table, ctx, ("numeric",)):
            values = pd.to_numeric(frame[name], errors="coerce")
            low, high = _fences(values.dropna().to_numpy(dtype=float), params.method, params.factor)
            if low is None:
                continue
            outside = ((values < low) | (values > high)).to_numpy(dtype=bool)
            if not outside.any():
                continue
            found[name] = {"count": int(outside.sum()), "low": low, "high": high,
                           "rows": ctx.row_ids(table, np.flatnonzero(outside)[:EXAMPLES])}
            if params.action == "clip":
                frame[name] = values.clip(low, high)
                trace.change(name, int(outside.sum()))
            drop |= outside
        if params.action == "drop" and drop.any():
            trace.drop(ctx.row_ids(table, np.flatnonzero(drop)), "numeric outlier")
            frame = frame[~drop]
        trace.details["outliers"] = found
        if found:
            total = sum(f["count"] for f in found.values())
            trace.details["note"] = f"{total:,} outlying values in {len(found)} columns ({params.action})"
        return to_table(frame)


def _fences(values: np.ndarray, method: str, factor: float) -> tuple[float | None, float | None]:
    if len(values) < 20:
        return None, None
    if method == "iqr":
        q1, q3 = np.percentile(values, [25, 75])
        spread = q3 - q1
        if spread <= 0:
            return None, None
        return float(q1 - factor * spread), float(q3 + factor * spread)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median))) * 1.4826
    if mad <= 0:
        return None, None
    return median - factor * mad, median + factor * mad


class MissingParams(OpParams):
    drop_target_missing: bool = Field(True, description="drop rows whose target is missing or unreadable")
    max_row_missing: float | None = Field(None, gt=0, le=1, description="drop rows missing more than this "
                                                                         "share of their feature values")
    fill: Literal["none", "median", "mode"] = Field("none", description="fill feature gaps (models cope with "
                                                                          "missing values, so default none)")


@register
class MissingValues(Operator):
    """The missing-value policy: rows without a target, rows mostly empty, optional fills."""

    name = "clean.missing"
    process = "clean"
    description = "drop rows missing the target or most features; optionally fill gaps by median/mode"
    Params = MissingParams

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        params: MissingParams = self.params  # type: ignore[assignment]
        frame = to_frame(table)
        features = [c for c in frame.columns if c not in (ROW, ctx.id_column, ctx.target)
                    and not c.startswith("__")]
        keep = np.ones(len(frame), dtype=bool)
        if params.drop_target_missing and ctx.target and ctx.target in frame.columns:
            missing = frame[ctx.target].isna().to_numpy(dtype=bool)
            trace.drop(ctx.row_ids(table, np.flatnonzero(missing)),
                       f"target '{ctx.target}' missing or unreadable")
            trace.details["missing_target"] = int(missing.sum())
            keep &= ~missing
        if params.max_row_missing is not None and features:
            share = frame[features].isna().mean(axis=1).to_numpy()
            empty = keep & (share > params.max_row_missing)
            trace.drop(ctx.row_ids(table, np.flatnonzero(empty)),
                       f"more than {params.max_row_missing:.0%} of feature values missing")
            keep &= ~empty
        frame = frame[keep].reset_index(drop=True)
        if params.fill != "none":
            for name in features:
                gaps = frame[name].isna()
                if not gaps.any() or frame[name].notna().sum() == 0:
                    continue
                numeric = pd.api.types.is_numeric_dtype(frame[name].dtype)
                if params.fill == "median" and numeric:
                    frame[name] = frame[name].fillna(frame[name].median())
                else:
                    frame[name] = frame[name].where(~gaps, frame[name].mode(dropna=True).iloc[0])
                trace.change(name, int(gaps.sum()))
        trace.details["missing_ratios"] = {n: round(float(frame[n].isna().mean()), 4) for n in features
                                           if frame[n].isna().any()}
        return to_table(frame)


def _changed(before: pd.Series, after: pd.Series) -> pd.Series:
    """Cells whose value changed (missing → missing is not a change)."""
    b, a = before.astype(object), after.astype(object)
    both_missing = b.isna().to_numpy(dtype=bool) & a.isna().to_numpy(dtype=bool)
    same = (b.to_numpy() == a.to_numpy()) | both_missing
    return pd.Series(~same, index=before.index)
