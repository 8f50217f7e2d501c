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
    """Render a model card (markdown) from a bundle's metadata: each section's heading in Chinese and English, its
    text in Chinese first, then in English (what the stations wrote, such as a dropped column's reason, as
    written)."""
    task = meta["task"]
    gate = meta.get("gate", {})
    checks = "\n".join(
        f"| {c['name']} | {c['criterion']} | {_fmt(c['observed'])} | "
        f"{'通过 · pass' if c['passed'] else '未通过 · FAIL'} |" for c in gate.get("checks", []))
    features = "\n".join(f"| {f['name']} | {f['kind']} |" for f in meta.get("features", []))
    dropped = "\n".join(f"- `{d['name']}`: {d['reason']}" for d in meta.get("dropped", [])) or "- 无 · none"
    zh, en = _answers(meta)
    passed = gate.get("passed")
    test_rows = meta.get("rows", {}).get("test", "?")
    deployment = meta.get("deployment", "cloud")
    body = f"""
# {meta['product']} (version from job {meta['job_id']})

租户 `{meta['tenant']}` 的 **{task}** 模型（作业 {meta['job_id']} 的版本），由 Mofang 按订单 `{meta['order_id']}` 构建。
模型族：**{meta.get('family')}**；预测 `{meta['target']}`。
{zh}
A **{task}** model for tenant `{meta['tenant']}`, built by Mofang from order `{meta['order_id']}`.
Model family: **{meta.get('family')}**; predicts `{meta['target']}`.
{en}
## 验收门槛 · Acceptance gate ({'通过 · passed' if passed else '未通过 · failed'})

| 检查 · check | 要求 · criterion | 实测 · observed | 结果 · result |
|---|---|---|---|
{checks or '| （订单未设 · none in the order） | | | |'}

## 输入 · Inputs

| 字段 · field | 类型 · kind |
|---|---|
{features}

未用作输入的列 · Columns not used as inputs:
{dropped}

## 用途与局限 · Intended use and limits

仅用租户自己的数据训练；留出测试集 {test_rows} 行。
{_refit_line(meta, "zh-CN")}
部署目标：{deployment}。用于其他时期或人群的数据之前，请重新验证。个人信息列未用作输入。

Trained on the tenant's data only; held-out test split of {test_rows} rows.
{_refit_line(meta, "en")}
Deployment target: {deployment}. Re-validate before use on data from another period
or population. Personal data columns were excluded from the inputs.
"""
    text = "---\n" + front_matter(meta) + "---\n" + body
    try:
        from huggingface_hub import ModelCard
    except ImportError:
        return text
    return str(ModelCard(text))


def _answers(meta: dict[str, Any]) -> tuple[str, str]:
    """What the product answers, in Chinese and in English (empty when the task says nothing more)."""
    classes = meta.get("classes") or []
    zh = en = ""
    if classes:
        names = ", ".join(f"`{c}`" for c in classes)
        if meta.get("multi_label"):
            zh_how = "每行回答一组标签（多标签），每个标签附概率"
            how = "a list of labels per row (multi-label), with a probability per label"
        else:
            zh_how, how = "每行回答一个类别，每个类别附概率", "one class per row, with a probability per class"
        zh = f"\n类别（{len(classes)} 个）：{names}。{zh_how}。\n"
        en = f"\nClasses ({len(classes)}): {names}. Answers {how}.\n"
    retrieval = meta.get("retrieval")
    if retrieval:
        listed = ", ".join(f"`{c}`" for c in retrieval.get("sources") or [])
        threshold = retrieval.get("no_answer_threshold")
        passages, mode, ranking = retrieval.get("passages", "?"), retrieval.get("mode"), retrieval.get("ranking")
        zh = (f"\n知识库共 {passages} 个段落（{mode}），按 {ranking} 排序。`POST /ask` 提交问题，返回最接近的 "
              f"`{meta['target']}` 段落及其来源（{listed or '所在行或文件'}）和得分"
              + (f"；首个结果的置信度低于 {threshold:.4g} 时不作回答" if threshold is not None else "") + "。\n")
        en = (f"\nA knowledge base of {passages} passages ({mode}), "
              f"ranked by {ranking}. `POST /ask` with a question returns the closest "
              f"`{meta['target']}` passages with their source ({listed or 'the row or file'}) and score"
              + (f", or no answer when the top result's confidence is under {threshold:.4g}" if threshold
                 is not None else "") + ".\n")
    anomaly = meta.get("anomaly")
    if anomaly:
        sensors = ", ".join(f"`{c}`" for c in anomaly["sensors"])
        supervised = anomaly["detector"] == "lightgbm-windows"
        zh = (f"\n以 {anomaly['window']} 条读数为窗口监测 {sensors}（检测器 {anomaly['detector']}）。"
              f"`POST /score` 按时间顺序提交读数，返回每条读数的分数，并标记分数不低于 "
              f"{anomaly['threshold']:.4g} 的读数；该阈值经校准，"
              f"使验证集正常读数中有 {anomaly['false_alarm_rate']:.2%} 被标记"
              + ("（有监督的检测器只认识训练数据中标注过的故障类型）" if supervised else "") + "。\n")
        en = (f"\nWatches {sensors} over windows of {anomaly['window']} "
              f"readings (detector {anomaly['detector']}). `POST /score` with readings in time order returns "
              f"a score per reading and flags those at or above {anomaly['threshold']:.4g}, calibrated to flag "
              f"{anomaly['false_alarm_rate']:.2%} of normal validation readings"
              + (" (a supervised detector knows only the kinds of fault labelled in its training data)"
                 if supervised else "") + ".\n")
    return zh, en


def _refit_line(meta: dict[str, Any], lang: str) -> str:
    """The note that the delivered model was fitted again after the gate, when it was (`lang`: zh-CN or en)."""
    if not meta.get("refit"):
        return ""
    if lang == "zh-CN":
        return f"通过门槛之后，交付的模型又拟合了一次：{meta['refit']}。上面的门槛数据来自重新拟合之前的模型。"
    return (f"After the gate, the delivered model was fitted again: {meta['refit']}. The gate figures above are "
            "those of the model before this refit.")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, int | float) else str(value)
