"""The transformer family on the model workshop's contract: text-raw rows in, a Candidate out; the base
model comes from the order or the catalog, and one that cannot read the text is skipped with why."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mofang.core.errors import MofangError
from mofang.models.candidate import Candidate
from mofang.models.registry import get_trainer, trainers_for
from mofang.models.trainers.transformer import TransformerTrainer, choose_base_model
from mofang.models.transformer.tiny import tiny_bert_checkpoint
from tests.models.test_transformer_classifier import keyword_texts
from tests.models.test_transformer_coverage import CHINESE, qwen_tokenizer_dir

DATASET = {"task": "text-classification", "target": "label", "classes": ["neg", "pos"],
           "features": [{"name": "review", "kind": "text"}]}


def frame(n: int, seed: int) -> pd.DataFrame:
    texts, y = keyword_texts(n, seed)
    return pd.DataFrame({"review": texts, "label": np.where(y == 1, "neg", "pos")})


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert_checkpoint(tmp_path_factory.mktemp("tiny-bert"))


@pytest.mark.filterwarnings("ignore:Fixed parameter")  # the tiny model's rate is outside the real search space
def test_fits_a_candidate_through_the_registry_from_the_orders_base_model(
        tiny_bert: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert trainers_for("text-classification")["transformer"] is TransformerTrainer
    assert TransformerTrainer.mode == "text-raw"
    # a tiny random model needs a far higher learning rate than a pretrained one
    monkeypatch.setattr(TransformerTrainer, "first_params", lambda self: {"lora_rank": 0, "learning_rate": 1e-2,
                                                                          "epochs": 6})
    monkeypatch.setattr(TransformerTrainer, "max_trials", 1)
    train, valid = frame(160, 10), frame(80, 11)
    order = SimpleNamespace(base_model=str(tiny_bert))
    candidate, info = get_trainer("text-classification", "transformer").fit(train, valid, DATASET, budget_s=120,
                                                                           order=order)
    assert info["valid_metrics"]["f1_macro"] >= 0.9 and info["trials"] == 1
    assert candidate.params["base_model"] == tiny_bert.name and "the order's base_model" in \
        candidate.params["base_model_choice"]
    assert candidate.params["max_length"] >= 16 and candidate.params["train_samples_per_s"] > 0
    assert set(candidate.predict(valid.head(5))) <= {"neg", "pos"}
    loaded = Candidate.load(candidate.save(tmp_path / "transformer.joblib"))
    np.testing.assert_array_equal(loaded.predict_proba(valid), candidate.predict_proba(valid))
    assert loaded.measure_latency(valid.drop(columns="label").head(3), n=3)["p95_ms"] > 0


def test_a_base_model_that_cannot_read_the_text_is_skipped_with_the_reason(home: Path) -> None:
    chinese = pd.DataFrame({"review": CHINESE, "label": ["pos", "neg"] * (len(CHINESE) // 2)})
    with pytest.raises(MofangError, match=r"^minilm-l6 skipped: \d\d% of tokens are \[UNK\] on this order's text "
                                          r"\(sample of 160 rows.*reads Chinese$"):
        TransformerTrainer().fit(chinese, chinese, DATASET, 60, order=SimpleNamespace(base_model="minilm-l6"))
    with pytest.raises(MofangError, match=r"minilm-l6 skipped: .* \(no catalog entry reads this text; add one to "
                                          r".*catalog.yaml\)"):
        TransformerTrainer().fit(chinese, chinese, DATASET, 60, order=SimpleNamespace(base_model=None))
    with pytest.raises(MofangError, match=r"unknown base_model 'bert-base-chinese'"):
        TransformerTrainer().fit(chinese, chinese, DATASET, 60, order=SimpleNamespace(base_model="bert-base-chinese"))


def test_the_catalog_entry_for_the_texts_language_is_preferred(home: Path, request: pytest.FixtureRequest) -> None:
    qwen = home / "models" / "qwen-tok"
    shutil.copytree(qwen_tokenizer_dir(request), qwen)
    (qwen / "config.json").write_text(json.dumps({"architectures": ["Qwen2ForCausalLM"]}))
    (home / "catalog.yaml").write_text("- {name: gone, path: /nowhere/at/all, language: zh}\n"
                                       "- {name: qwen-zh, path: models/qwen-tok, language: zh, kind: causal-lm}\n",
                                       encoding="utf-8")
    choice = choose_base_model(None, np.asarray(CHINESE, dtype=object))
    assert choice.entry.name == "qwen-zh" and choice.coverage.ratio < 0.01
    assert "gone skipped: catalog entry 'gone'" in choice.reason and "/nowhere/at/all" in choice.reason
    english = choose_base_model(None, np.asarray(["a fine film", "a dull plot"] * 10, dtype=object))
    assert english.entry.name == "minilm-l6" and english.length == 16


def test_without_torch_the_family_is_listed_and_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    script = ("import sys\n"
              "class NotInstalled:\n"  # torch, transformers and peft cannot be imported in this process
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name.split('.')[0] in ('torch', 'transformers', 'peft'):\n"
              "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
              "sys.meta_path.insert(0, NotInstalled())\n"
              "from mofang.models.registry import trainers_for\n"
              "print('transformer' in trainers_for('text-classification'))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails as if not installed
    english = frame(20, 12)
    with pytest.raises(MofangError, match=r"need torch and transformers \(torch is missing\): install mofang\[nlp\]"):
        TransformerTrainer().fit(english, english, DATASET, 60, order=SimpleNamespace(base_model="minilm-l6"))
