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
