"""Instruction tuning of a tiny random Qwen2 with the real Qwen tokenizer: base-model checks before training,
assistant-only labels, LoRA and full tuning lowering the validation loss, resume after a crash, merged LoRA
equal to the adapter."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mofang.core.errors import MofangError
from mofang.models.transformer.chat_templates import IGNORE, chat_template, supervised_ids
from mofang.models.transformer.tiny import tiny_qwen2_checkpoint
from mofang.tasks.llm.models.checkpoint import choose_method, open_base
from mofang.tasks.llm.models.sft import TrialConfig, length_grouped_batches, merge_adapter, train_sft
from tests.models.test_transformer_coverage import qwen_tokenizer_dir

pytest.importorskip("peft")

TOPICS = ["合同", "劳动", "婚姻", "继承", "租赁", "借款"]


@pytest.fixture(scope="module")
def tokenizer_dir(request: pytest.FixtureRequest) -> Path:
    return qwen_tokenizer_dir(request)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, tokenizer_dir: Path) -> Path:
    return tiny_qwen2_checkpoint(tmp_path_factory.mktemp("tiny-chat"), tokenizer_folder=tokenizer_dir,
                                 max_positions=128)


def chats(n: int) -> list[list[dict[str, str]]]:
    return [[{"role": "system", "content": "你是法律助手。"},
             {"role": "user", "content": f"{TOPICS[i % 6]}纠纷怎么办？"},
             {"role": "assistant", "content": f"{TOPICS[i % 6]}纠纷可以协商，也可以起诉。"}] for i in range(n)]


def test_labels_cover_the_assistant_turns_only(tiny: Path) -> None:
    base = open_base(str(tiny))
    messages = [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "您好，请讲。"},
                {"role": "user", "content": "合同是什么？"}, {"role": "assistant", "content": "合同是协议。"}]
    ids, labels = supervised_ids(base.tokenizer, messages, base.template)
    assert len(ids) == len(labels)
    learned = base.tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE])
    assert learned == "您好，请讲。<|im_end|>\n合同是协议。<|im_end|>\n"
    assert all(lab == IGNORE or lab == i for i, lab in zip(ids, labels, strict=True))
    assert "你好" not in learned and "合同是什么" not in learned


def test_base_model_problems_are_refused_before_training(tiny: Path, tmp_path: Path, tokenizer_dir: Path) -> None:
    with pytest.raises(MofangError, match="no folder .* Mofang never downloads"):
        open_base(str(tmp_path / "missing-checkpoint"))
    bare = tiny_qwen2_checkpoint(tmp_path / "bare", tokenizer_folder=tokenizer_dir, chat_template=None)
    with pytest.raises(MofangError, match="has no chat template.*llm.chat_template"):
        open_base(str(bare))
    assert "<|im_start|>" in open_base(str(bare), template_override="chatml").template
    with pytest.raises(MofangError, match="llm.max_seq_len 4096 is longer than .* allows \\(128 positions\\)"):
        open_base(str(tiny), max_seq_len=4096)
    with pytest.raises(MofangError, match="neither a known template"):
        chat_template(open_base(str(tiny)).tokenizer, "vicuna")
    config = json.loads((tiny / "config.json").read_text())
    encoder = tmp_path / "encoder"
    encoder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "model.safetensors"):
        (encoder / name).write_bytes((tiny / name).read_bytes())
    (encoder / "config.json").write_text(json.dumps({**config, "architectures": ["BertModel"]}))
    with pytest.raises(MofangError, match="not a causal language model"):
        open_base(str(encoder))


def test_method_auto_tunes_small_models_fully() -> None:
    assert choose_method("auto", 5_000_000)[0] == "full"
    assert choose_method("auto", 500_000_000)[0] == "lora"
    assert choose_method("lora", 5_000_000)[0] == "lora"


def test_batches_group_similar_lengths_and_cover_every_row() -> None:
    import random

    lengths = [random.Random(i).randint(5, 300) for i in range(400)]
    batches = length_grouped_batches(lengths, 8, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(400))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 30  # random batches of 8 from 5..300 spread ~230


@pytest.mark.slow
@pytest.mark.parametrize(("config", "drop"), [(TrialConfig("full", None, 3e-3, 3), 1.0),
                                              (TrialConfig("lora", 8, 1e-2, 3), 0.05)])
def test_tuning_lowers_the_validation_loss(tiny: Path, tmp_path: Path, config: TrialConfig, drop: float) -> None:
    base = open_base(str(tiny))
    examples = [supervised_ids(base.tokenizer, c, base.template) for c in chats(48)]
    result = train_sft(base.path, examples[:40], examples[40:], config, folder=tmp_path / config.name,
                       pad_id=base.tokenizer.pad_token_id, batch_size=8, deadline=time.monotonic() + 300, seed=0,
                       tokenizer=base.tokenizer)
    first = result.curve[0]["valid_loss"]
    assert result.valid_loss < first - drop, result.curve
    assert result.steps == 15 and result.epochs_done == 3 and result.stopped is None
    assert 0 < result.tokens <= result.padded_tokens
    best = Path(result.folder)
    assert (best / ("adapter_config.json" if config.method == "lora" else "config.json")).exists()


@pytest.mark.slow
def test_a_crashed_trial_resumes_at_its_last_epoch(tiny: Path, tmp_path: Path) -> None:
    base = open_base(str(tiny))
    examples = [supervised_ids(base.tokenizer, c, base.template) for c in chats(40)]
    config = TrialConfig("full", None, 3e-3, 2)
    kwargs = {"folder": tmp_path / "trial", "pad_id": base.tokenizer.pad_token_id, "batch_size": 8, "seed": 0,
              "tokenizer": base.tokenizer}

    def crash(step: int, _planned: int, _loss: float) -> None:
        if step == 6:  # in the second epoch (4 batches per epoch)
            raise KeyboardInterrupt("worker killed")

    with pytest.raises(KeyboardInterrupt):
        train_sft(base.path, examples[:32], examples[32:], config, deadline=time.monotonic() + 300, on_step=crash,
                  **kwargs)
    assert (tmp_path / "trial" / "state.pt").exists()
    steps: list[int] = []
    resumed = train_sft(base.path, examples[:32], examples[32:], config, deadline=time.monotonic() + 300,
                        on_step=lambda step, *_: steps.append(step), **kwargs)
    assert steps == [5, 6, 7, 8]  # the second epoch again, not the first
    assert resumed.steps == 8 and [p["epoch"] for p in resumed.curve] == [0.0, 1.0, 2.0]
    uninterrupted = train_sft(base.path, examples[:32], examples[32:], config, deadline=time.monotonic() + 300,
                              **{**kwargs, "folder": tmp_path / "straight"})
    assert resumed.valid_loss == pytest.approx(uninterrupted.valid_loss, rel=1e-4)


@pytest.mark.slow
def test_a_merged_adapter_answers_like_the_adapter(tiny: Path, tmp_path: Path) -> None:
    import peft
    import torch
    import transformers

    base = open_base(str(tiny))
    examples = [supervised_ids(base.tokenizer, c, base.template) for c in chats(16)]
    result = train_sft(base.path, examples[:12], examples[12:], TrialConfig("lora", 4, 1e-2, 1),
                       folder=tmp_path / "lora", pad_id=base.tokenizer.pad_token_id, batch_size=4,
                       deadline=time.monotonic() + 300, seed=0, tokenizer=base.tokenizer)
    merged = merge_adapter(base.path, Path(result.folder), tmp_path / "merged", base.tokenizer)
    ids = torch.tensor([examples[0][0]])
    with torch.no_grad():
        adapted = peft.PeftModel.from_pretrained(
            transformers.AutoModelForCausalLM.from_pretrained(str(tiny)), result.folder).eval()(ids).logits
        folded = transformers.AutoModelForCausalLM.from_pretrained(str(merged)).eval()(ids).logits
        plain = transformers.AutoModelForCausalLM.from_pretrained(str(tiny)).eval()(ids).logits
    assert torch.allclose(adapted, folded, atol=1e-4)
    assert not torch.allclose(plain, folded, atol=1e-4)  # the adapter changed something
    assert (merged / "tokenizer.json").exists() and not (merged / "adapter_config.json").exists()


def test_the_loss_on_learned_positions_equals_the_loss_over_full_logits(tiny: Path) -> None:
    import torch

    from mofang.tasks.llm.models.sft import collate, load_causal_lm, token_loss, with_lora

    base = open_base(str(tiny))
    batch = collate([supervised_ids(base.tokenizer, c, base.template) for c in chats(6)],
                    base.tokenizer.pad_token_id, torch, "cpu")
    for model in (load_causal_lm(base.path, "cpu"), with_lora(load_causal_lm(base.path, "cpu"), 4, 0)):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
        labels = batch["labels"][:, 1:]
        expected = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                     ignore_index=IGNORE, reduction="sum")
        loss, count = token_loss(model, batch, torch)
        assert count == int((labels != IGNORE).sum()) > 0
        assert float(loss) == pytest.approx(float(expected), rel=1e-5)
        loss.backward()  # gradients flow through the selected positions
        assert any(p.grad is not None for p in model.parameters() if p.requires_grad)
