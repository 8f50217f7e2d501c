"""The data card: what the data workshop read, changed, dropped and published, and from where."""

from __future__ import annotations

from typing import Any

import pandas as pd


def build_card(*, order: Any, sources: dict, profile: dict, clean_trace: dict, dedupe_trace: dict,
               features: dict, guard_trace: dict, split_trace: dict, parts: dict[str, pd.DataFrame],
               files: dict[str, str]) -> dict:
    """A JSON-ready data card (no timestamps, so the same data gives the same dataset digest)."""
    target, id_column = order.target, order.id_column
    kept = {f["name"]: f["kind"] for f in features["features"]}
    dropped = {d["name"]: d["reason"] for d in features["dropped"]}
    schema = []
    for name, spec in profile["columns"].items():
        role = ("target" if name == target else "id" if name == id_column
                else "feature" if name in kept else "dropped")
        entry = {"name": name, "kind": spec["kind"], "role": role, "missing_ratio": spec["missing_ratio"],
                 "distinct": spec["distinct"]}
        if spec.get("dayfirst") is not None:
            entry["date_order"] = "dd/mm/yyyy" if spec["dayfirst"] else "mm/dd/yyyy"
        if name in dropped:
            entry["dropped_because"] = dropped[name]
        schema.append(entry)
    every = pd.concat(list(parts.values()), ignore_index=True)
    return {
        "order": order.id, "tenant": order.tenant, "task": order.task.value, "target": target,
        "id_column": id_column, "schema": schema,
        "rows": {"read": profile["rows"], "clean": clean_trace["rows_out"],
                 "dedupe": dedupe_trace["rows_out"],
                 **{name: len(frame) for name, frame in parts.items()}},
        "rows_dropped": [
            {"process": "clean", "count": clean_trace["missing_target"]["count"],
             "reason": f"target '{target}' missing or unreadable",
             "sample": clean_trace["missing_target"]["sample"]},
            {"process": "dedupe", "count": dedupe_trace["removed"], "reason": "exact duplicate rows",
             "sample": dedupe_trace["sample"]},
        ],
        "duplicates_removed": dedupe_trace["removed"],
        "unparsable_values": clean_trace["unparsable"],
        "pii": [{**p, "handling": "dropped from features"} for p in guard_trace["pii"]],
        "columns_dropped": features["dropped"],
        "leakage_scores": guard_trace["scores"],
        "missing_ratios": {name: round(float(every[name].isna().mean()), 4) for name in kept},
        "target_summary": _target_summary(every[target], split_trace),
        "split": split_trace,
        "lineage": {"sources": sources["sources"], "files": files},
    }


def _target_summary(target: pd.Series, split_trace: dict) -> dict:
    if target.dtype == object:
        counts = target.value_counts()
        return {"class_balance": {str(k): int(v) for k, v in sorted(counts.items())},
                "rare_classes_in_train_only": split_trace.get("rare_classes", {})}
    return {k: round(float(v), 6) for k, v in target.describe().items()}
