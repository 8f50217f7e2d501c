"""DataWorkshop (数据车间): ingest and profile the order's data, run its recipe process by process, then
validate, split and publish a documented dataset version.

The station holds what every task shares and asks the task registry (`mofang.core.tasks`) where a task differs:
its flags (`text`, `classes`, `label_target`), its overrides of whole processes (`data.validate`, `data.split`,
routed by the line) and its hooks inside a process:

- `data.read(ctx, data, reads) -> data`: reshape the sources just read (ingest), e.g. into conversations;
- `data.columns(ctx, frame, profile, raw) -> str`: the task's own column choice (validate): it saves `features`
  and `guard_trace` and returns the process summary;
- `data.publish(ctx, parts, features) -> dict`: extra keys of the published `dataset` record.

The helpers a task package's overrides and hooks share with the station are public here (`latest_table`,
`operator_context`, `run_validate_steps`, `text_columns`, `drop_reason`, `split_columns`, `split_rows_of`).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from mofang.core.errors import DataError
from mofang.core.resources import Needs
from mofang.core.tasks import TaskSpec
from mofang.core.tasks import spec as task_spec
from mofang.data.card import build_card
from mofang.data.card_html import write_card_html
from mofang.data.clean.frames import to_frame, to_table
from mofang.data.leakage import guard_record, is_leak, leak_score, undecided
from mofang.data.ops import ROW, OpContext, OpTrace
from mofang.data.pii import find_pii
from mofang.data.pipeline import op_context, run_operators
from mofang.data.profile import profile_frame
from mofang.data.recipes import Recipe, RecipeOverride, build_recipe
from mofang.data.sources import read_granted
from mofang.data.split import split_by_time, split_rows
from mofang.data.split_leakage import held_out_copies
from mofang.data.types import coerce, infer_formats
from mofang.data.windows import label_from_windows
from mofang.security.audit import DATA_READ, AuditLog
from mofang.station.context import StationContext
from mofang.station.contract import Station
from mofang.store import file_digest

SAMPLE = 10
SYNTHETIC, PARENT = "__synthetic__", "__parent__"  # set by augment operators on the rows they add
RECIPE_PROCESSES = ("normalize", "clean", "deduplicate", "desensitize", "quality", "label", "augment")
# a header that names an identifier: CustomerId, customer_id, user ID, 客户编号, 卡号, 订单号 ...
ID_HEADER = re.compile(r"(?:(?i:(?<![a-z])(?:id|no|num))|[a-z]Id|ID|编号|代码|号码|单号|卡号|账号|[^\W\d_]号)$")
WIDE_CATEGORIES = 100  # a categorical column with more distinct values than this and than half the rows
FREE_TEXT = "free text; the tabular path does not read free text"
TIME_ROLE = "the order's time column (orders the time-aware split, never a feature)"


class DataWorkshop(Station):
    """Turns the order's sources into a published, documented train/valid/test dataset version."""

    name = "data"
    outputs = ("dataset", "train", "valid", "test", "data_card")
    processes = ("ingest", "profile", *RECIPE_PROCESSES, "validate", "split", "publish")
    resources = Needs(cpus=1, memory_gb=1)  # the sources as frames, a few copies through the recipe

    # -- ingest ----------------------------------------------------------------------------------
    def ingest(self, ctx: StationContext) -> str:
        data, reads = read_granted(ctx.order, on_read=ctx.advance)  # bytes of the sources' files read, as read
        if ctx.order.anomaly is not None and ctx.order.anomaly.windows is not None:  # labels kept beside the data
            data, note = label_from_windows(ctx.order, data, reads)
            ctx.reason(note)
        reader = _spec(ctx).hook("data.read")  # the task's own reading, e.g. conversations
        if reader is not None:
            data = reader(ctx, data, reads)
        for read in reads:
            if read.denied:
                ctx.reason(f"did not keep columns {read.denied} of {read.label}: not granted by the order")
            how = ", ".join(f"{k} {v!r}" for k, v in (("encoding", read.encoding),
                                                       ("separator", read.separator)) if v)
            ctx.reason(f"read {read.label} as {read.format}{' (' + how + ')' if how else ''}: "
                       f"{read.rows:,} rows, sha256 {read.sha256[:12]}")
            for warning in read.warnings:
                ctx.reason(f"{read.label}: {warning}")
        ctx.param(sources=[asdict(r) for r in reads])

        AuditLog(ctx.meta).record(DATA_READ, actor="line", tenant=ctx.tenant, object=ctx.order.id,
                                  details={"job": ctx.job_id, "sources": [r.label for r in reads],
                                           "columns_denied": sorted({c for r in reads for c in r.denied}),
                                           "rows": len(data)})
        ctx.metric(rows=len(data), columns=data.shape[1])
        data.insert(0, ROW, range(1, len(data) + 1))
        ctx.save("raw", data)
        ctx.save("sources", {"sources": [asdict(r) for r in reads]})
        recipe = build_recipe(ctx.order.task, RecipeOverride.model_validate(ctx.order.recipe or {}))
        ctx.save("recipe", recipe.model_dump())
        ctx.param(recipe=recipe.name, steps=[s.op for s in recipe.steps])
        names = ", ".join(Path(r.label).name if r.format != "sql" else r.label for r in reads)
        encodings = sorted({r.encoding for r in reads if r.encoding})
        return (f"{len(data):,} rows × {data.shape[1] - 1} columns from {names}"
                + (f" ({', '.join(encodings)})" if encodings else ""))

    # -- profile ---------------------------------------------------------------------------------
    def profile(self, ctx: StationContext) -> str:
        raw = ctx.load("raw")
        profile = profile_frame(raw, ctx.reason)
        columns = profile["columns"]
        kinds = pd.Series([c["kind"] for c in columns.values()]).value_counts().to_dict()
        ctx.metric(rows=len(raw), kinds=kinds)
        ctx.param(kinds={n: c["kind"] for n, c in columns.items()})
        ctx.save("profile", {"rows": len(raw), "columns": columns})
        return ", ".join(f"{v} {k}" for k, v in kinds.items()) + f" columns in {len(raw):,} rows"

    # -- the recipe's processes ---------------------------------------------------------------------
    def normalize(self, ctx: StationContext) -> str:
        return self._run_recipe(ctx, "normalize")

    def clean(self, ctx: StationContext) -> str:
        return self._run_recipe(ctx, "clean")

    def deduplicate(self, ctx: StationContext) -> str:
        return self._run_recipe(ctx, "deduplicate")

    def desensitize(self, ctx: StationContext) -> str:
        return self._run_recipe(ctx, "desensitize")

    def quality(self, ctx: StationContext) -> str:
        return self._run_recipe(ctx, "quality")

    def label(self, ctx: StationContext) -> str:
        return self._run_recipe(ctx, "label")

    def augment(self, ctx: StationContext) -> str:
        return self._run_recipe(ctx, "augment")

    def _run_recipe(self, ctx: StationContext, process: str) -> str:
        """Run the recipe's steps of one process on the latest table; save the table and the traces."""
        operators = Recipe.model_validate(ctx.load("recipe")).for_process(process)
        if not operators:
            ctx.save(f"trace_{process}", {"steps": []})
            return "no steps in the recipe"
        table = to_table(latest_table(ctx, process))
        opctx = operator_context(ctx)
        opctx.on_progress = lambda done, total, note: ctx.advance(done, total, note)
        rows_in = table.num_rows
        table, traces = run_operators(table, operators, opctx, on_step=lambda i, n, note: ctx.advance(i, n, note))
        for trace in traces:
            ctx.reason(trace_summary(trace))
        ctx.save(f"table_{process}", to_frame(table))
        ctx.save(f"trace_{process}", {"steps": traces})
        ctx.param(steps=[t["op"] for t in traces])
        dropped = sum(t["dropped"] for t in traces)
        changed = sum(sum(t["changed"].values()) for t in traces)
        ctx.metric(rows_in=rows_in, rows_out=table.num_rows, rows_dropped=dropped, cells_changed=changed)
        return (f"{len(traces)} steps: {rows_in:,} → {table.num_rows:,} rows, {changed:,} cells changed"
                + (f", {dropped:,} rows dropped" if dropped else ""))

    # -- validate --------------------------------------------------------------------------------
    def validate(self, ctx: StationContext) -> str:
        """Run the recipe's validate steps, then choose features: no ids, PII, constants or leaks."""
        frame = latest_table(ctx, "validate")
        traces: list[dict] = [self._drop_unlabeled(ctx, frame)]
        if ctx.order.target:
            frame = frame[frame[ctx.order.target].notna()].reset_index(drop=True)
        frame, more = run_validate_steps(ctx, frame)
        traces += more
        ctx.save("validated", frame)
        ctx.save("trace_validate", {"steps": traces})
        return self._choose_features(ctx, frame)

    @staticmethod
    def _drop_unlabeled(ctx: StationContext, frame: pd.DataFrame) -> dict:
        """The trace of dropping rows whose target is still missing after the label process."""
        trace = OpTrace(op="validate.target", process="validate", rows_in=len(frame))
        target = ctx.order.target
        if target and target in frame.columns:
            missing = frame[target].isna().to_numpy(dtype=bool)
            column = ctx.order.id_column if ctx.order.id_column in frame.columns else ROW
            trace.drop(frame.loc[missing, column].tolist(), f"target '{target}' missing after labeling")
        trace.rows_out = len(frame) - trace.dropped
        if trace.dropped:
            ctx.reason(f"dropped {trace.dropped:,} rows whose target is still missing")
        return trace.as_dict()

    def _choose_features(self, ctx: StationContext, frame: pd.DataFrame) -> str:
        profile, raw = ctx.load("profile"), ctx.load("raw")
        task = _spec(ctx)
        columns = task.hook("data.columns")  # the task's own column choice (questions, series, sensors)
        if columns is not None:
            return str(columns(ctx, frame, profile, raw))
        target, id_column = ctx.order.target or "", ctx.order.id_column
        aliases: dict[str, dict[str, str]] = {}
        for step in ctx.load("trace_clean")["steps"]:
            for column, mapping in step["details"].get("merged", {}).items():
                aliases.setdefault(column, {}).update(mapping)
        classification = task.classes
        texts = text_columns(ctx, profile, frame)
        kept: list[dict] = []
        dropped: list[dict] = []
        pii: list[dict] = []
        scores: dict[str, dict] = {}
        guard = ctx.order.leakage
        labelled = _real_rows(frame)  # synthetic rows prove nothing about a leak
        for name, spec in profile["columns"].items():
            if name == target:
                continue
            if name in texts:  # the model reads this text; PII inside it was desensitized
                kept.append({"name": name, "kind": "text"})
                continue
            reason = (TIME_ROLE if name == ctx.order.time_column
                      else drop_reason(name, spec["kind"], frame, raw, id_column, pii))
            if reason == FREE_TEXT and texts:
                reason = ("free text not named in the order's 'text' (the model reads "
                          + ", ".join(texts) + ")")
            if reason is None:
                values = frame[name]
                if texts:  # a text recipe does not coerce the other columns: read them as typed here
                    values = coerce(values, spec["kind"], dayfirst=spec.get("dayfirst")) \
                        if spec["kind"] == "datetime" else coerce(values, spec["kind"])
                score, measure = leak_score(values, spec["kind"], frame[target], classification)
                scores[name] = {"score": round(score, 4), "measure": measure}
                if is_leak(score, labelled, guard):
                    reason = (f"target leakage: predicts '{target}' on its own ({measure} {score:.3f} ≥ "
                              f"{guard.threshold:g}); such a column is usually recorded after the outcome")
            if reason is None:
                feature = {"name": name, "kind": spec["kind"]}
                if spec.get("dayfirst") is not None:  # served dates must be read as training ones were
                    feature["dayfirst"] = spec["dayfirst"]
                if name in raw.columns:  # number and date formats, read vectorised at serving
                    feature.update(infer_formats(raw[name], spec["kind"]))
                if aliases.get(name):  # served categories are folded as training ones were
                    feature["aliases"] = aliases[name]
                kept.append(feature)
            else:
                dropped.append({"name": name, "reason": reason})
                ctx.reason(f"dropped column {name}: {reason}")
        if texts:
            ctx.reason(f"text features: {', '.join(texts)}"
                       + (" (named by the order)" if ctx.order.text_columns else " (profiled as free text)"))
        if not kept:
            raise DataError("no usable feature columns remain after the leakage guard; dropped: "
                            + "; ".join(f"{d['name']} ({d['reason']})" for d in dropped))
        ctx.metric(features=len(kept), dropped=len(dropped), pii_columns=len(pii))
        ctx.param(features=[f["name"] for f in kept])
        ctx.save("features", {"features": kept, "dropped": dropped})
        leakage = guard_record(labelled, scores, guard)
        if undecided(labelled, guard):
            ctx.reason(f"leakage guard did not decide: {leakage['reason']}")
        ctx.save("guard_trace", {"pii": pii, "scores": scores, "leakage": leakage})
        return f"{len(kept)} features kept, {len(dropped)} columns dropped ({len(pii)} PII)"

    # -- split -----------------------------------------------------------------------------------
    def split(self, ctx: StationContext) -> str:
        """Split real rows 70/15/15; synthetic rows join train only, and only when their parent is there."""
        return split_rows_of(ctx)

    # -- publish ---------------------------------------------------------------------------------
    def publish(self, ctx: StationContext) -> str:
        order = ctx.order
        task = _spec(ctx)
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
        traces = {p: ctx.load(f"trace_{p}")["steps"] for p in (*RECIPE_PROCESSES, "validate")}
        identity = {"order": order.id, "tenant": order.tenant, "task": order.task, "target": order.target,
                    "id_column": order.id_column}
        card = build_card(identity=identity, sources=ctx.load("sources"), profile=ctx.load("profile"),
                          recipe=ctx.load("recipe"), traces=traces, features=features,
                          guard_trace=ctx.load("guard_trace"), split_trace=ctx.load("split_trace"), parts=parts,
                          files=files)
        (folder / "data_card.json").write_text(json.dumps(card, ensure_ascii=False, indent=1, default=str),
                                               encoding="utf-8")
        write_card_html(card, folder / "data_card.html")
        digest, stored = ctx.artifacts.put_dir(ctx.tenant, "dataset", folder, ctx.vault, order=ctx.order.id)
        card["lineage"]["dataset_digest"] = digest
        target = order.target or ""
        classes = None
        if task.classes:
            every = pd.concat([p[target] for p in parts.values()], ignore_index=True).dropna()
            if order.multi_label:  # the classes are the single labels ("教育|医疗" → 教育, 医疗)
                classes = sorted({label.strip() for value in every for label in str(value).split(
                    order.label_separator) if label.strip()})
            else:
                classes = sorted(str(c) for c in every.unique())
        dataset = {"digest": digest, "path": str(stored), "task": order.task, "target": target,
                   "id_column": order.id_column, "features": features["features"], "classes": classes,
                   "rows": {name: len(part) for name, part in parts.items()}, "dropped": features["dropped"]}
        if order.multi_label:
            dataset.update(multi_label=True, label_separator=order.label_separator)
        extra = task.hook("data.publish")  # what the task's later stations read of its dataset
        if extra is not None:
            dataset.update(extra(ctx, parts, features))
        ctx.save("data_card", card)
        ctx.save("dataset", dataset)
        for name, part in parts.items():
            ctx.save(name, part)
        ctx.param(digest=digest)
        ctx.reason(f"published dataset version {digest[:12]} from sources "
                   + ", ".join(s["sha256"][:12] for s in card["lineage"]["sources"]))
        rows = sum(len(p) for p in parts.values())
        return f"dataset {digest[:12]}: {rows:,} rows, {len(features['features'])} features"


# -- what the station shares with the task packages' overrides and hooks -----------------------------
def _real_rows(frame: pd.DataFrame) -> int:
    """Rows of `frame` that are not synthetic (augment operators mark those they add)."""
    if SYNTHETIC not in frame.columns:
        return len(frame)
    return int((~frame[SYNTHETIC].fillna(False).to_numpy(dtype=bool)).sum())


def _spec(ctx: StationContext) -> TaskSpec:
    return task_spec(ctx.order.task)


def latest_table(ctx: StationContext, process: str) -> pd.DataFrame:
    """The table as the last process before `process` that had recipe steps left it."""
    earlier = RECIPE_PROCESSES[:RECIPE_PROCESSES.index(process)] if process in RECIPE_PROCESSES \
        else RECIPE_PROCESSES
    for name in reversed(earlier):
        if ctx.has(f"table_{name}"):
            return ctx.load(f"table_{name}")
    return ctx.load("raw")


def operator_context(ctx: StationContext) -> OpContext:
    """The operators' view of this job: its order's roles and seed, the profile's kinds, the tenant's key.
    A target that is served text rather than a label (`TaskSpec.label_target` false: a retrieval-qa answer,
    an instruction-tuning response) is not a label to the operators: they treat it as text (normalized,
    desensitized, scored); rows without one are dropped by `validate`."""
    target = ctx.order.target if _spec(ctx).label_target else None
    return op_context(tenant=ctx.tenant, seed=ctx.order.seed, task=ctx.order.task, target=target,
                      id_column=ctx.order.id_column, profile=ctx.load("profile"), home=ctx.artifacts.home,
                      meta=ctx.meta)


def run_validate_steps(ctx: StationContext, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """The recipe's validate steps run on `frame`: the frame they leave and their traces (each one a reason)."""
    operators = Recipe.model_validate(ctx.load("recipe")).for_process("validate")
    if not operators:
        return frame, []
    table, traces = run_operators(to_table(frame), operators, operator_context(ctx))
    for trace in traces:
        ctx.reason(trace_summary(trace))
    return to_frame(table), traces


def text_columns(ctx: StationContext, profile: dict, frame: pd.DataFrame) -> list[str]:
    """A text task's text columns (`TaskSpec.text` "features"): the order's `text`, else every column profiled
    as free text (its PII check still applies); none for other tasks. Raises DataError when there are none."""
    if _spec(ctx).text != "features":
        return []

    named = ctx.order.text_columns
    for name in named:
        if name not in profile["columns"]:
            raise DataError(f"text column '{name}' (the order's 'text') is not in the data; columns: "
                            + ", ".join(str(c) for c in profile["columns"]))
        if name not in frame.columns:
            raise DataError(f"text column '{name}' (the order's 'text') was removed by the recipe")
    if named:
        return list(named)
    found = [name for name, spec in profile["columns"].items()
             if spec["kind"] == "text" and name != ctx.order.target and name in frame.columns
             and spec.get("pii") is None]
    if not found:
        raise DataError("no free-text column found for this text task (profiled kinds: "
                        + ", ".join(f"{n} {s['kind']}" for n, s in profile["columns"].items())
                        + "); name the text column(s) with 'text:' in the order")
    return found


def drop_reason(name: str, kind: str, frame: pd.DataFrame, raw: pd.DataFrame, id_column: str | None,
                pii: list[dict]) -> str | None:
    """Why column `name` is no feature (the id column, gone, PII, identifier-like, free text, constant), or
    None; a PII finding is appended to `pii`."""
    if name == id_column:
        return "the order's id column (identifies rows, never a feature)"
    if name not in frame.columns:
        return "removed by the recipe (see the data card's process traces)"
    values = frame[name]
    finding = find_pii(name, raw[name])
    if finding is not None:
        pii.append({"column": name, "kind": finding.kind, "share": round(finding.share, 4)})
        return finding.description
    distinct = int(values.nunique())
    if kind == "identifier":
        return f"identifier-like ({distinct:,} distinct values in {len(values):,} rows)"
    if kind == "text":
        return FREE_TEXT
    if distinct <= 1:
        if distinct == 0:
            return "empty (every value missing)"
        return f"constant (always {values.dropna().iloc[0]!r})"
    if kind == "categorical" and distinct > max(WIDE_CATEGORIES, 0.5 * len(values)):
        return f"identifier-like ({distinct:,} distinct categories in {len(values):,} rows)"
    if kind == "numeric" and ID_HEADER.search(name) and distinct >= 0.9 * values.notna().sum() > 20:
        return f"identifier-like (an id by its header, {distinct:,} distinct values in {len(values):,} rows)"
    return None


def split_columns(ctx: StationContext, features: dict, *, keep_row_numbers: bool = False) -> list[str]:
    """The columns the parts keep: the id column, the features, the target and the time column (never a feature,
    kept to order the parts by); `keep_row_numbers`: the original row number too when the order has no id column
    (e.g. answers that name the row they come from)."""
    target, id_column = ctx.order.target or "", ctx.order.id_column
    columns = ([id_column] if id_column else []) + [f["name"] for f in features["features"]] + [target]
    time_column = ctx.order.time_column
    columns = [c for c in columns if c] + ([time_column] if time_column and time_column not in columns else [])
    if keep_row_numbers and not id_column:
        columns.insert(0, ROW)
    return columns


def split_rows_of(ctx: StationContext, *, keep_row_numbers: bool = False, how: str | None = None,
                  frame: pd.DataFrame | None = None) -> str:
    """Split the validated rows (`frame`, else the `validated` artifact) 70/15/15, by time when the order has a
    time column, else at random (stratified by class when the task's target has classes and is single-label);
    synthetic rows join train only, and only when their parent is there; valid and test rows copying a training
    row's text are removed. `how` names the method in the record instead of the station's own words."""
    frame = ctx.load("validated") if frame is None else frame
    features = ctx.load("features")
    target = ctx.order.target or ""
    # a multi-label target's label combinations are too many to stratify by: split at random
    classification = _spec(ctx).classes and not ctx.order.multi_label
    columns = split_columns(ctx, features, keep_row_numbers=keep_row_numbers)
    time_column = ctx.order.time_column
    synthetic = (frame[SYNTHETIC].fillna(False).to_numpy(dtype=bool) if SYNTHETIC in frame.columns
                 else np.zeros(len(frame), dtype=bool))
    real, extra = frame[~synthetic].reset_index(drop=True), frame[synthetic].reset_index(drop=True)
    parts = (split_by_time(real[time_column], time_column, real[target] if target else None, classification)
             if time_column else split_rows(real[target], classification, ctx.order.seed))
    for label, count in parts.rare_classes.items():
        ctx.reason(f"class '{label}' has only {count} rows: kept in train only (too few to evaluate)")
    if how is None:
        how = "stratified by class" if classification else "random"
        if time_column:
            how = f"by time on '{time_column}': train the earliest rows, valid and test later ones"
    ctx.reason(f"split 70/15/15 {how}" + ("" if time_column else f" with seed {ctx.order.seed}"))
    synthetic_trace = {"added_to_train": 0, "dropped_parent_held_out": 0}
    chosen = {"train": real.iloc[parts.train], "valid": real.iloc[parts.valid], "test": real.iloc[parts.test]}
    if len(extra):
        in_train = extra[PARENT].isin(set(chosen["train"][ROW])).to_numpy(dtype=bool)
        synthetic_trace = {"added_to_train": int(in_train.sum()),
                           "dropped_parent_held_out": int((~in_train).sum())}
        chosen["train"] = pd.concat([chosen["train"], extra[in_train]], ignore_index=True)
        ctx.reason(f"{int(in_train.sum()):,} synthetic rows added to train only; "
                   f"{int((~in_train).sum()):,} dropped because the row they came from is held out")
    leakage = {}
    for name in ("valid", "test"):
        found = held_out_copies(chosen["train"], chosen[name], features["features"])
        if found["near_text"]:
            chosen[name] = chosen[name].drop(chosen[name].index[found["near_text"]])
            ctx.reason(f"removed {len(found['near_text']):,} {name} rows whose text nearly copies a training "
                       f"row (Jaccard ≥ 0.8): they would inflate the {name} score")
        if found["same_features"]:
            ctx.reason(f"{found['same_features']:,} {name} rows have exactly the features of a training row")
        leakage[name] = {"same_features": found["same_features"], "near_text_removed": len(found["near_text"]),
                         "examples": found["examples"]}
    sizes = {}
    for name, part in chosen.items():
        part = part[columns].reset_index(drop=True)
        ctx.save(name, part)
        sizes[name] = len(part)
    ctx.param(seed=ctx.order.seed, method=how, shares=[0.7, 0.15, 0.15])
    ctx.metric(**sizes)
    ctx.save("split_trace", {"method": how, "seed": ctx.order.seed, "rows": sizes,
                             "rare_classes": parts.rare_classes, "synthetic": synthetic_trace,
                             "leakage": leakage})
    return f"train {sizes['train']:,} · valid {sizes['valid']:,} · test {sizes['test']:,} ({how})"


def trace_summary(trace: dict) -> str:
    """One line for the job record from an operator's trace."""
    parts = []
    if trace["changed"]:
        parts.append(f"{sum(trace['changed'].values()):,} cells changed in {len(trace['changed'])} columns")
    if trace["dropped"]:
        reasons = sorted({r["reason"] for r in trace["dropped_rows"]})
        parts.append(f"{trace['dropped']:,} rows dropped ({'; '.join(reasons[:3])}; "
                     f"e.g. rows {[r['row'] for r in trace['dropped_rows'][:5]]})")
    note = trace["details"].get("note")
    if note:
        parts.append(str(note))
    return f"{trace['op']}: " + (", ".join(parts) if parts else "nothing to change")
