"""DataWorkshop (数据车间): the tabular data station — ingest, profile, clean, dedupe, guard, split, publish."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from mofang.data.card import build_card
from mofang.data.labels import class_labels, regression_values
from mofang.data.leakage import LEAK_SCORE, leak_score
from mofang.data.pii import find_pii
from mofang.data.sources import read_granted
from mofang.data.split import split_rows
from mofang.data.types import coerce, date_order, infer_kind
from mofang.line.context import StationContext
from mofang.line.station import Station
from mofang.orders.schema import Task
from mofang.store import file_digest

ROW = "__row__"  # 1-based data row number across the stacked sources, kept until the split
SAMPLE = 10
# a header that names an identifier: CustomerId, customer_id, user ID, 客户编号, 卡号, 订单号 ...
ID_HEADER = re.compile(r"(?:(?i:(?<![a-z])(?:id|no|num))|[a-z]Id|ID|编号|代码|号码|单号|卡号|账号|[^\W\d_]号)$")
WIDE_CATEGORIES = 100  # a categorical column with more distinct values than this and than half the rows


class DataWorkshop(Station):
    """Turns the order's sources into a published, documented train/valid/test dataset version."""

    name = "data"
    outputs = ("dataset", "train", "valid", "test", "data_card")
    processes = ("ingest", "profile", "clean", "dedupe", "guard", "split", "publish")

    # -- ingest ----------------------------------------------------------------------------------
    def ingest(self, ctx: StationContext) -> str:
        total = len(ctx.order.data)
        data, reads = read_granted(ctx.order, lambda i, s: ctx.advance(i, total, f"reading {s.label}"))
        ctx.advance(total, total, "all sources read")
        for read in reads:
            if read.denied:
                ctx.reason(f"did not keep columns {read.denied} of {read.label}: not granted by the order")
            how = ", ".join(f"{k} {v!r}" for k, v in (("encoding", read.encoding),
                                                       ("separator", read.separator)) if v)
            ctx.reason(f"read {read.label} as {read.format}{' (' + how + ')' if how else ''}: "
                       f"{read.rows:,} rows, sha256 {read.sha256[:12]}")
        ctx.param(sources=[asdict(r) for r in reads])
        ctx.metric(rows=len(data), columns=data.shape[1])
        data.insert(0, ROW, range(1, len(data) + 1))
        ctx.save("raw", data)
        ctx.save("sources", {"sources": [asdict(r) for r in reads]})
        names = ", ".join(Path(r.label).name if r.format != "sql" else r.label for r in reads)
        encodings = sorted({r.encoding for r in reads if r.encoding})
        return (f"{len(data):,} rows × {data.shape[1] - 1} columns from {names}"
                + (f" ({', '.join(encodings)})" if encodings else ""))

    # -- profile ---------------------------------------------------------------------------------
    def profile(self, ctx: StationContext) -> str:
        raw = ctx.load("raw")
        columns: dict[str, dict] = {}
        for name in raw.columns.drop(ROW):
            values = raw[name]
            kind = infer_kind(values)
            spec = {"kind": kind, "missing_ratio": round(float(values.isna().mean()), 4),
                    "distinct": int(values.nunique())}
            if kind == "datetime":
                spec["dayfirst"] = date_order(values)
                if spec["dayfirst"] is not None:
                    order = "day-first (dd/mm)" if spec["dayfirst"] else "month-first (mm/dd)"
                    ctx.reason(f"column {name}: dates read {order}, as a value above 12 shows")
            columns[name] = spec
        kinds = pd.Series([c["kind"] for c in columns.values()]).value_counts().to_dict()
        ctx.metric(rows=len(raw), kinds=kinds)
        ctx.param(kinds={n: c["kind"] for n, c in columns.items()})
        ctx.save("profile", {"rows": len(raw), "columns": columns})
        return ", ".join(f"{v} {k}" for k, v in kinds.items()) + f" columns in {len(raw):,} rows"

    # -- clean -----------------------------------------------------------------------------------
    def clean(self, ctx: StationContext) -> str:
        raw, profile = ctx.load("raw"), ctx.load("profile")
        target, id_column = ctx.order.target or "", ctx.order.id_column
        out: dict[str, pd.Series] = {ROW: raw[ROW]}
        unparsable: dict[str, dict] = {}
        for name, spec in profile["columns"].items():
            if name == target:
                continue
            kind = "identifier" if name == id_column else spec["kind"]
            values = coerce(raw[name], kind, dayfirst=spec.get("dayfirst"))
            lost = raw[name].notna() & values.isna()
            if lost.any():
                examples = [str(v) for v in raw[name][lost].unique()[:5]]
                unparsable[name] = {"count": int(lost.sum()), "examples": examples}
                ctx.reason(f"column {name}: {int(lost.sum()):,} values that are not {kind} became missing "
                           f"(e.g. {', '.join(repr(e) for e in examples[:3])})")
            out[name] = values
        classification = ctx.order.task == Task.TABULAR_CLASSIFICATION
        y = class_labels(raw[target]) if classification else regression_values(raw[target])
        out[target] = y
        frame = pd.DataFrame(out)
        missing = y.isna()
        sample = _sample_ids(frame[missing], id_column)
        if missing.any():
            ctx.reason(f"dropped {int(missing.sum()):,} rows whose target '{target}' is missing or "
                       f"unreadable (e.g. rows {sample[:5]})")
        frame = frame[~missing].reset_index(drop=True)
        ratios = {n: round(float(frame[n].isna().mean()), 4) for n in frame.columns if n not in (ROW, target)}
        ctx.metric(rows_in=len(raw), rows_out=len(frame), missing_target=int(missing.sum()),
                   missing_ratios={n: r for n, r in ratios.items() if r > 0})
        ctx.param(target_as="class labels (strings)" if classification else "float")
        ctx.save("clean", frame)
        ctx.save("clean_trace", {"rows_out": len(frame), "unparsable": unparsable, "missing_ratios": ratios,
                                 "missing_target": {"count": int(missing.sum()), "sample": sample}})
        return f"{len(frame):,} rows kept, {int(missing.sum()):,} dropped for a missing target"

    # -- dedupe ----------------------------------------------------------------------------------
    def dedupe(self, ctx: StationContext) -> str:
        frame = ctx.load("clean")
        id_column = ctx.order.id_column
        subset = [c for c in frame.columns if c not in (ROW, id_column)]
        duplicated = frame.duplicated(subset=subset, keep="first")
        sample = _sample_ids(frame[duplicated], id_column)
        removed = int(duplicated.sum())
        if removed:
            ctx.reason(f"removed {removed:,} exact duplicate rows (all columns but the id equal; "
                       f"e.g. rows {sample[:5]}); the first copy is kept")
        frame = frame[~duplicated].reset_index(drop=True)
        ctx.metric(duplicates_removed=removed, rows_out=len(frame))
        ctx.save("deduped", frame)
        ctx.save("dedupe_trace", {"removed": removed, "sample": sample, "rows_out": len(frame)})
        return f"{removed:,} duplicate rows removed, {len(frame):,} left"

    # -- guard -----------------------------------------------------------------------------------
    def guard(self, ctx: StationContext) -> str:
        frame, profile, raw = ctx.load("deduped"), ctx.load("profile"), ctx.load("raw")
        target, id_column = ctx.order.target or "", ctx.order.id_column
        classification = ctx.order.task == Task.TABULAR_CLASSIFICATION
        kept: list[dict] = []
        dropped: list[dict] = []
        pii: list[dict] = []
        scores: dict[str, dict] = {}
        for name, spec in profile["columns"].items():
            if name == target:
                continue
            reason = self._drop_reason(name, spec["kind"], frame, raw, id_column, pii)
            if reason is None:
                score, measure = leak_score(frame[name], spec["kind"], frame[target], classification)
                scores[name] = {"score": round(score, 4), "measure": measure}
                if score >= LEAK_SCORE:
                    reason = (f"target leakage: predicts '{target}' on its own ({measure} {score:.3f} ≥ "
                              f"{LEAK_SCORE}); such a column is usually recorded after the outcome")
            if reason is None:
                feature = {"name": name, "kind": spec["kind"]}
                if spec.get("dayfirst") is not None:  # served dates must be read as training ones were
                    feature["dayfirst"] = spec["dayfirst"]
                kept.append(feature)
            else:
                dropped.append({"name": name, "reason": reason})
                ctx.reason(f"dropped column {name}: {reason}")
        if not kept:
            from mofang.errors import DataError

            raise DataError("no usable feature columns remain after the leakage guard; dropped: "
                            + "; ".join(f"{d['name']} ({d['reason']})" for d in dropped))
        ctx.metric(features=len(kept), dropped=len(dropped), pii_columns=len(pii))
        ctx.param(features=[f["name"] for f in kept])
        ctx.save("features", {"features": kept, "dropped": dropped})
        ctx.save("guard_trace", {"pii": pii, "scores": scores})
        return f"{len(kept)} features kept, {len(dropped)} columns dropped ({len(pii)} PII)"

    @staticmethod
    def _drop_reason(name: str, kind: str, frame: pd.DataFrame, raw: pd.DataFrame, id_column: str | None,
                     pii: list[dict]) -> str | None:
        values = frame[name]
        if name == id_column:
            return "the order's id column (identifies rows, never a feature)"
        finding = find_pii(name, raw[name])
        if finding is not None:
            pii.append({"column": name, "kind": finding.kind, "share": round(finding.share, 4)})
            return finding.description
        distinct = int(values.nunique())
        if kind == "identifier":
            return f"identifier-like ({distinct:,} distinct values in {len(values):,} rows)"
        if kind == "text":
            return "free text; the tabular path does not read free text"
        if distinct <= 1:
            if distinct == 0:
                return "empty (every value missing)"
            return f"constant (always {values.dropna().iloc[0]!r})"
        if kind == "categorical" and distinct > max(WIDE_CATEGORIES, 0.5 * len(values)):
            return f"identifier-like ({distinct:,} distinct categories in {len(values):,} rows)"
        if kind == "numeric" and ID_HEADER.search(name) and distinct >= 0.9 * values.notna().sum() > 20:
            return f"identifier-like (an id by its header, {distinct:,} distinct values in {len(values):,} rows)"
        return None

    # -- split -----------------------------------------------------------------------------------
    def split(self, ctx: StationContext) -> str:
        frame, features = ctx.load("deduped"), ctx.load("features")
        target, id_column = ctx.order.target or "", ctx.order.id_column
        classification = ctx.order.task == Task.TABULAR_CLASSIFICATION
        columns = ([id_column] if id_column else []) + [f["name"] for f in features["features"]] + [target]
        frame = frame[columns].reset_index(drop=True)
        parts = split_rows(frame[target], classification, ctx.order.seed)
        for label, count in parts.rare_classes.items():
            ctx.reason(f"class '{label}' has only {count} rows: kept in train only (too few to evaluate)")
        how = "stratified by class" if classification else "random"
        ctx.reason(f"split 70/15/15 {how} with seed {ctx.order.seed}")
        sizes = {}
        for name, rows in (("train", parts.train), ("valid", parts.valid), ("test", parts.test)):
            part = frame.iloc[rows].reset_index(drop=True)
            ctx.save(name, part)
            sizes[name] = len(part)
        ctx.param(seed=ctx.order.seed, method=how, shares=[0.7, 0.15, 0.15])
        ctx.metric(**sizes)
        ctx.save("split_trace", {"method": how, "seed": ctx.order.seed, "rows": sizes,
                                 "rare_classes": parts.rare_classes})
        return f"train {sizes['train']:,} · valid {sizes['valid']:,} · test {sizes['test']:,} ({how})"

    # -- publish ---------------------------------------------------------------------------------
    def publish(self, ctx: StationContext) -> str:
        order = ctx.order
        features = ctx.load("features")
        parts = {name: ctx.load(name) for name in ("train", "valid", "test")}
        folder = ctx.path("dataset_version")
        if folder.exists():
            shutil.rmtree(folder)  # our own scratch folder from an interrupted earlier run
        folder.mkdir(parents=True)
        files = {}
        for name, part in parts.items():
            part.to_parquet(folder / f"{name}.parquet", index=False)
            files[f"{name}.parquet"] = file_digest(folder / f"{name}.parquet")
        card = build_card(order=order, sources=ctx.load("sources"), profile=ctx.load("profile"),
                          clean_trace=ctx.load("clean_trace"), dedupe_trace=ctx.load("dedupe_trace"),
                          features=features, guard_trace=ctx.load("guard_trace"),
                          split_trace=ctx.load("split_trace"), parts=parts, files=files)
        (folder / "data_card.json").write_text(json.dumps(card, ensure_ascii=False, indent=1, default=str),
                                               encoding="utf-8")
        digest, stored = ctx.artifacts.put_dir(ctx.tenant, "dataset", folder)
        card["lineage"]["dataset_digest"] = digest
        classification = order.task == Task.TABULAR_CLASSIFICATION
        target = order.target or ""
        classes = None
        if classification:
            every = pd.concat([p[target] for p in parts.values()], ignore_index=True)
            classes = sorted(str(c) for c in every.dropna().unique())
        dataset = {"digest": digest, "path": str(stored), "task": order.task.value, "target": target,
                   "id_column": order.id_column, "features": features["features"], "classes": classes,
                   "rows": {name: len(part) for name, part in parts.items()}, "dropped": features["dropped"]}
        ctx.save("data_card", card)
        ctx.save("dataset", dataset)
        for name, part in parts.items():
            ctx.save(name, part)
        ctx.param(digest=digest)
        ctx.reason(f"published dataset version {digest[:12]} from sources "
                   + ", ".join(s["sha256"][:12] for s in card["lineage"]["sources"]))
        rows = sum(len(p) for p in parts.values())
        return f"dataset {digest[:12]}: {rows:,} rows, {len(features['features'])} features"


def _sample_ids(frame: pd.DataFrame, id_column: str | None) -> list:
    """Up to SAMPLE identifiers of rows: the id column's values, else the data row numbers."""
    column = id_column if id_column and id_column in frame.columns else ROW
    return [v.item() if hasattr(v, "item") else v for v in frame[column].head(SAMPLE).tolist()]



