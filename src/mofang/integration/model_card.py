"""Model cards in the Hugging Face style: YAML front matter (`library_name`, tags, `model-index`), written with
`huggingface_hub.ModelCard` where it is installed, then prose."""

from __future__ import annotations

from typing import Any

import yaml

# the Hugging Face library that reads each family's model (a Hub `library_name`); a family absent has none
LIBRARIES = {"lightgbm": "lightgbm", "tfidf-lightgbm": "lightgbm", "lightgbm-windows": "lightgbm",
             **{family: "sklearn" for family in ("dummy", "linear", "knn", "randomforest", "extratrees", "mlp",
                                                 "tfidf-linear", "jieba-linear", "lsa-linear")},
             **{family: "transformers" for family in ("transformer", "sft-full", "sft-lora", "base")}}


def library_name(family: str | None) -> str | None:
    """The Hub `library_name` of a family's model (None: no library reads it as it is, e.g. an ensemble)."""
    return LIBRARIES.get(str(family or ""))


def front_matter(meta: dict[str, Any]) -> str:
    """The card's YAML metadata: library, tags and the test metrics as a `model-index` (with huggingface_hub's
    ModelCardData when it is installed)."""
    task, family = meta["task"], meta.get("family") or ""
    library = library_name(family)
    tags = [t for t in dict.fromkeys(["mofang", task, family]) if t]
    metrics = {k: round(float(v), 6) for k, v in (meta.get("metrics") or {}).items()
               if isinstance(v, int | float) and not isinstance(v, bool)}
    dataset = {"name": meta["order_id"], "type": "tenant-private",
               "revision": str(meta.get("dataset_digest") or "")[:12]}
    try:
        from huggingface_hub import EvalResult, ModelCardData
    except ImportError:
        front: dict[str, Any] = {**({"library_name": library} if library else {}), "tags": tags}
        if metrics:
            front["model-index"] = [{"name": meta["product"], "results": [{
                "task": {"type": task}, "dataset": dataset,
                "metrics": [{"type": k, "value": v, "name": f"test {k}"} for k, v in metrics.items()]}]}]
        return yaml.safe_dump(front, allow_unicode=True, sort_keys=False)
    results = [EvalResult(task_type=task, dataset_type=dataset["type"], dataset_name=dataset["name"],
                          dataset_revision=dataset["revision"] or None, metric_type=k, metric_value=v,
                          metric_name=f"test {k}") for k, v in metrics.items()]
    data = ModelCardData(library_name=library, tags=tags, model_name=meta["product"], eval_results=results or None)
    return data.to_yaml() + "\n"


def model_card(meta: dict[str, Any]) -> str:
    """Render a model card (markdown) from a bundle's metadata."""
    task = meta["task"]
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
    text = "---\n" + front_matter(meta) + "---\n" + body
    try:
        from huggingface_hub import ModelCard
    except ImportError:
        return text
    return str(ModelCard(text))


def _refit_line(meta: dict[str, Any]) -> str:
    """The note that the delivered model was fitted again after the gate, when it was."""
    if not meta.get("refit"):
        return ""
    return (f"After the gate, the delivered model was fitted again: {meta['refit']}. The gate figures above are "
            "those of the model before this refit.")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)
