"""The model card's metadata is a valid Hugging Face card: written with huggingface_hub's ModelCard, a
`library_name` that names a library (or none), never a Mofang family."""

from __future__ import annotations

import pytest

from mofang.integration.model_card import library_name, model_card

META = {"task": "tabular-classification", "product": "loan-default", "order_id": "loan-2026q4", "job_id": "j-1",
        "tenant": "demo-bank", "target": "是否违约", "dataset_digest": "0123456789abcdef",
        "metrics": {"roc_auc": 0.8803, "f1_macro": 0.71, "brier": None, "base_vs_tuned": {"x": [1, 2]}}}


@pytest.mark.parametrize("family, library", [
    ("linear", "sklearn"), ("tfidf-linear", "sklearn"), ("dummy", "sklearn"), ("lightgbm", "lightgbm"),
    ("tfidf-lightgbm", "lightgbm"), ("transformer", "transformers"), ("sft-lora", "transformers"),
    ("ensemble", None), ("blend(linear+lightgbm)", None), ("retrieval", None), (None, None)])
def test_library_name_is_a_library_or_none(family, library) -> None:
    huggingface_hub = pytest.importorskip("huggingface_hub")
    assert library_name(family) == library
    card = huggingface_hub.ModelCard(model_card({**META, "family": family}))
    assert card.data.library_name == library
    assert "library_name: linear" not in str(card)
    index = card.data.to_dict()["model-index"][0]
    assert index["name"] == "loan-default"
    metrics = {m["type"]: m["value"] for m in index["results"][0]["metrics"]}
    assert metrics == {"roc_auc": 0.8803, "f1_macro": 0.71}  # numbers only: none and nested results left out
    assert index["results"][0]["dataset"]["revision"] == "0123456789ab"
    assert "# loan-default (version from job j-1)" in card.text


def test_each_section_is_written_in_chinese_then_english() -> None:
    meta = {**META, "family": "lightgbm", "classes": ["是", "否"], "rows": {"test": 120}, "refit": "on train + valid",
            "features": [{"name": "年龄", "kind": "numeric"}], "dropped": [{"name": "身份证号", "reason": "personal"}],
            "gate": {"passed": True, "checks": [{"name": "roc_auc", "criterion": ">= 0.8", "observed": 0.88,
                                                 "passed": True}]}}
    text = model_card(meta).split("---\n", 2)[2]
    for heading in ("## 验收门槛 · Acceptance gate (通过 · passed)", "## 输入 · Inputs",
                    "## 用途与局限 · Intended use and limits"):
        assert heading in text, heading
    assert "| roc_auc | >= 0.8 | 0.88 | 通过 · pass |" in text and "- `身份证号`: personal" in text
    pairs = [("租户 `demo-bank` 的 **tabular-classification** 模型", "A **tabular-classification** model for tenant"),
             ("类别（2 个）：`是`, `否`。每行回答一个类别", "Classes (2): `是`, `否`. Answers one class per row"),
             ("仅用租户自己的数据训练；留出测试集 120 行。", "held-out test split of 120 rows"),
             ("交付的模型又拟合了一次：on train + valid", "the delivered model was fitted again: on train + valid")]
    for chinese, english in pairs:  # Chinese first
        assert chinese in text and english in text and text.index(chinese) < text.index(english), chinese
    anomaly = model_card({**META, "family": "pca", "anomaly": {
        "sensors": ["p"], "window": 10, "detector": "lightgbm-windows", "threshold": 2.5, "false_alarm_rate": 0.01}})
    assert "以 10 条读数为窗口监测 `p`" in anomaly and "只认识训练数据中标注过的故障类型" in anomaly
    assert "Watches `p` over windows of 10" in anomaly
    retrieval = model_card({**META, "family": "retrieval", "retrieval": {
        "passages": 12, "mode": "rows", "ranking": "bm25", "sources": ["row"], "no_answer_threshold": 0.3}})
    assert "知识库共 12 个段落" in retrieval and "置信度低于 0.3 时不作回答" in retrieval
    assert "A knowledge base of 12 passages" in retrieval and "POST /ask" in retrieval


def test_without_huggingface_hub_the_same_metadata_is_written(monkeypatch) -> None:
    import sys

    import yaml

    pytest.importorskip("huggingface_hub")
    with_hub = model_card({**META, "family": "linear"})
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # as if it were not installed
    plain = model_card({**META, "family": "linear"})
    ours, theirs = (yaml.safe_load(text.split("---\n")[1]) for text in (plain, with_hub))
    assert ours["library_name"] == theirs["library_name"] == "sklearn"
    assert ours["model-index"] == theirs["model-index"] and ours["tags"] == theirs["tags"]
    assert plain.split("---\n", 2)[2].strip() == with_hub.split("---\n", 2)[2].strip()
    assert "library_name" not in model_card({**META, "family": "ensemble"})
