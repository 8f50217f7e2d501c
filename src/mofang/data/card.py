"""The data card: what the data workshop read, changed, dropped and published, process by process."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.data.ocr_card import ocr_section

PROCESS_ORDER = ("normalize", "clean", "deduplicate", "desensitize", "quality", "label", "augment", "validate")


def build_card(*, identity: dict[str, Any], sources: dict, profile: dict, recipe: dict,
               traces: dict[str, list[dict]], features: dict | None, guard_trace: dict | None,
               split_trace: dict | None, parts: dict[str, pd.DataFrame], files: dict[str, str]) -> dict:
    """A JSON-ready data card (no timestamps, so the same data gives the same dataset digest).

    `identity` holds order, tenant, task, target, id_column; a standalone data job (no model) passes no
    features, guard or split, and one part named "data".
    """
    target, id_column = identity.get("target"), identity.get("id_column")
    features = features or {"features": [], "dropped": []}
    guard_trace = guard_trace or {"pii": [], "scores": {}}
    split_trace = split_trace or {"method": "none (a standalone data job)", "seed": None,
                                  "rows": {n: len(f) for n, f in parts.items()}}
    kept = {f["name"]: f["kind"] for f in features["features"]}
    dropped = {d["name"]: d["reason"] for d in features["dropped"]}
    schema = []
    for name, spec in profile["columns"].items():
        role = ("target" if name == target else "id" if name == id_column
                else "feature" if name in kept else "dropped" if name in dropped else "column")
        entry = {"name": name, "kind": spec["kind"], "role": role, "missing_ratio": spec["missing_ratio"],
                 "distinct": spec["distinct"]}
        if spec.get("dayfirst") is not None:
            entry["date_order"] = "dd/mm/yyyy" if spec["dayfirst"] else "mm/dd/yyyy"
        if name in dropped:
            entry["dropped_because"] = dropped[name]
        schema.append(entry)
    steps = [t for p in PROCESS_ORDER for t in traces.get(p, [])]
    every = pd.concat(list(parts.values()), ignore_index=True)
    return {
        "order": identity.get("order"), "tenant": identity.get("tenant"), "task": identity.get("task"),
        "target": target, "id_column": id_column, "schema": schema,
        "recipe": {"name": recipe["name"], "steps": [s["op"] for s in recipe["steps"]]},
        "processes": [{"process": p, "steps": [_step(t) for t in traces.get(p, [])]} for p in PROCESS_ORDER],
        "rows": rows_per_process(profile["rows"], traces, parts),
        "rows_dropped": [{"process": t["process"], "op": t["op"], "count": t["dropped"],
                          "sample": t["dropped_rows"]} for t in steps if t["dropped"]],
        "pii": {"columns_dropped_from_features": guard_trace["pii"],
                "found": [{"op": t["op"], **t["details"]} for t in traces.get("desensitize", [])]},
        "duplicates": [{"op": t["op"], "removed": t["dropped"], **t["details"]}
                       for t in traces.get("deduplicate", [])],
        "quality": [{"op": t["op"], **t["details"]} for t in traces.get("quality", [])],
        "augment": [{"op": t["op"], "rows_added": t["rows_out"] - t["rows_in"], **t["details"]}
                    for t in traces.get("augment", [])],
        "columns_dropped": features["dropped"],
        "leakage_scores": guard_trace["scores"],
        "leakage_guard": guard_trace.get("leakage"),  # settings, rows, whether it decided and why
        "missing_ratios": {name: round(float(every[name].isna().mean()), 4)
                           for name in (kept or [c for c in every.columns if not c.startswith("__")])},
        "target_summary": _target_summary(every[target], split_trace) if target in every.columns else {},
        "split": split_trace,
        "source_warnings": source_warnings(sources["sources"]),
        "ocr": ocr_section(sources["sources"]),  # pages read by OCR, their confidence
        "lineage": {"sources": sources["sources"], "files": files},
    }


def source_warnings(sources: list[dict]) -> list[dict[str, str]]:
    """What reading the sources flagged (a last row cut off and dropped...), one entry per warning."""
    return [{"source": s.get("label", ""), "warning": w} for s in sources for w in s.get("warnings") or []]


def rows_per_process(read: int, traces: dict[str, list[dict]], parts: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Rows after ingest, after each process that ran steps, and in each split part."""
    rows = {"read": read}
    for process in PROCESS_ORDER:
        if traces.get(process):
            rows[process] = traces[process][-1]["rows_out"]
    rows.update({name: len(frame) for name, frame in parts.items()})
    return rows


def _step(trace: dict) -> dict:
    return {"op": trace["op"], "params": trace["params"], "rows_in": trace["rows_in"],
            "rows_out": trace["rows_out"], "changed": trace["changed"], "dropped": trace["dropped"],
            "note": trace["details"].get("note", "")}  # no timings: same data, same card, same digest


def _target_summary(target: pd.Series, split_trace: dict) -> dict:
    if target.dtype == object:
        counts = target.value_counts()
        return {"class_balance": {str(k): int(v) for k, v in sorted(counts.items())},
                "rare_classes_in_train_only": split_trace.get("rare_classes", {})}
    return {k: round(float(v), 6) for k, v in target.describe().items()}
