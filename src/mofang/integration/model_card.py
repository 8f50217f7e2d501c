"""Model cards in the Hugging Face style: YAML front matter with `model-index`, then prose."""

from __future__ import annotations

from typing import Any

import yaml


def model_card(meta: dict[str, Any]) -> str:
    """Render a model card (markdown) from a bundle's metadata."""
    metrics = meta.get("metrics", {})
    task = meta["task"]
    front = {
        "library_name": meta.get("family"),
        "tags": ["mofang", task, meta.get("family", "")],
        "model-index": [{
            "name": meta["product"],
            "results": [{
                "task": {"type": task},
                "dataset": {"name": meta["order_id"], "type": "tenant-private",
                            "revision": meta.get("dataset_digest", "")[:12]},
                "metrics": [{"type": k, "value": round(float(v), 6), "name": f"test {k}"}
                            for k, v in metrics.items() if v is not None],
            }],
        }],
    }
    gate = meta.get("gate", {})
    checks = "\n".join(
        f"| {c['name']} | {c['criterion']} | {_fmt(c['observed'])} | {'pass' if c['passed'] else 'FAIL'} |"
        for c in gate.get("checks", []))
    features = "\n".join(f"| {f['name']} | {f['kind']} |" for f in meta.get("features", []))
    dropped = "\n".join(f"- `{d['name']}`: {d['reason']}" for d in meta.get("dropped", [])) or "- none"
    classes = meta.get("classes") or []
    answers = ""
    if classes:
        how = ("a list of labels per row (multi-label), with a probability per label" if meta.get("multi_label")
               else "one class per row, with a probability per class")
        answers = f"\nClasses ({len(classes)}): {', '.join(f'`{c}`' for c in classes)}. Answers {how}.\n"
    retrieval = meta.get("retrieval")
    if retrieval:
        sources = ", ".join(f"`{c}`" for c in retrieval.get("sources") or []) or "the row or file"
        threshold = retrieval.get("no_answer_threshold")
        answers = (f"\nA knowledge base of {retrieval.get('passages', '?')} passages ({retrieval.get('mode')}), "
                   f"ranked by {retrieval.get('ranking')}. `POST /ask` with a question returns the closest "
                   f"`{meta['target']}` passages with their source ({sources}) and score"
                   + (f", or no answer when the top result's confidence is under {threshold:.4g}" if threshold
                      is not None else "") + ".\n")
    anomaly = meta.get("anomaly")
    if anomaly:
        answers = (f"\nWatches {', '.join(f'`{c}`' for c in anomaly['sensors'])} over windows of {anomaly['window']} "
                   f"readings (detector {anomaly['detector']}). `POST /score` with readings in time order returns "
                   f"a score per reading and flags those at or above {anomaly['threshold']:.4g}, calibrated to flag "
                   f"{anomaly['false_alarm_rate']:.2%} of normal validation readings"
                   + (" (a supervised detector knows only the kinds of fault labelled in its training data)"
                      if anomaly["detector"] == "lightgbm-windows" else "") + ".\n")
    body = f"""
# {meta['product']} (version from job {meta['job_id']})

A **{task}** model for tenant `{meta['tenant']}`, built by Mofang from order `{meta['order_id']}`.
Model family: **{meta.get('family')}**; predicts `{meta['target']}`.
{answers}
## Acceptance gate ({'passed' if gate.get('passed') else 'failed'})

| check | criterion | observed | result |
|---|---|---|---|
{checks or '| (none in the order) | | | |'}

## Inputs

| field | kind |
|---|---|
{features}

Columns not used as inputs:
{dropped}

## Intended use and limits

Trained on the tenant's data only; held-out test split of {meta.get('rows', {}).get('test', '?')} rows.
{_refit_line(meta)}
Deployment target: {meta.get('deployment', 'cloud')}. Re-validate before use on data from another period
or population. Personal data columns were excluded from the inputs.
"""
    return "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n" + body


def _refit_line(meta: dict[str, Any]) -> str:
    """The note that the delivered model was fitted again after the gate, when it was."""
    if not meta.get("refit"):
        return ""
    return (f"After the gate, the delivered model was fitted again: {meta['refit']}. The gate figures above are "
            "those of the model before this refit.")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)
