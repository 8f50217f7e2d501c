"""ChatModel: greedy generation within the context, batched == one by one, streaming that never splits a
character, log-likelihood choices, too-long prompts, loading from bytes and with a LoRA adapter."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from mofang.models.transformer.chat_templates import Message, supervised_ids
from mofang.models.transformer.runtime import load_tokenizer, torch_threads
from mofang.models.transformer.tiny import tiny_qwen2_checkpoint
from mofang.tasks.llm.models.chat import ChatModel, PromptTooLong
from tests.models.test_transformer_coverage import qwen_tokenizer_dir

ASK: list[Message] = [{"role": "user", "content": "合同到期后对方不付款怎么办？"}]
RARE = "龘"  # one character, two byte-level tokens: a stream must not cut it in half
TAUGHT: list[list[Message]] = [
    [{"role": "system", "content": "你是法律助手。"}, {"role": "user", "content": "合同纠纷怎么办？"},
     {"role": "assistant", "content": f"可以依法向法院起诉，{RARE}字号的律所可以帮忙。"}],
    [{"role": "user", "content": "借条要写什么？"}, {"role": "assistant", "content": "写明借款金额、期限和利率[1]。"}],
]


def overfit_checkpoint(folder: Path, tokenizer_dir: Path, conversations: list[list[Message]], *,
                       max_steps: int = 400, seed: int = 0) -> Path:
    """A tiny Qwen2 trained with plain torch until it reproduces every assistant token of `conversations`
    (teacher-forced, each token ahead of the runner-up by a clear margin, then a few steps more): greedy decoding
    then replays them, whatever thread count or batch shape the replay runs with. Two threads always: the
    weights must not depend on what an earlier test left `torch.get_num_threads()` at."""
    import torch
    from transformers import AutoModelForCausalLM

    tiny_qwen2_checkpoint(folder, tokenizer_folder=tokenizer_dir, seed=seed)
    tokenizer = load_tokenizer(folder)
    rows = [supervised_ids(tokenizer, c, tokenizer.chat_template) for c in conversations]
    width = max(len(ids) for ids, _ in rows)
    ids = torch.tensor([i + [tokenizer.pad_token_id] * (width - len(i)) for i, _ in rows])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
    mask = torch.tensor([[1] * len(i) + [0] * (width - len(i)) for i, _ in rows])
    keep = labels[:, 1:] != -100
    targets = labels[:, 1:][keep]
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    model.train()
    torch.manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-2)
    exact_at = None
    with torch_threads(2):
        for step in range(max_steps):
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1][keep]
            logits = model.lm_head(hidden)  # the loss on reply tokens only: the vocabulary is 151k wide
            torch.nn.functional.cross_entropy(logits, targets).backward()
            optimizer.step()
            optimizer.zero_grad()
            if exact_at is None and _margin(logits.detach(), targets) >= MARGIN:
                exact_at = step
            if exact_at is not None and step >= exact_at + 8:
                break
    assert exact_at is not None, "the tiny model did not learn the replies"
    model.save_pretrained(str(folder))
    return folder


MARGIN = 2.0  # logits by which each taught token must lead: far above float noise between thread counts


def _margin(logits, targets) -> float:
    """The smallest lead of a target token's logit over the best other token (negative: some token is wrong)."""
    import torch

    chosen = logits.gather(1, targets[:, None])[:, 0]
    others = logits.scatter(1, targets[:, None], torch.finfo(logits.dtype).min).max(-1).values
    return float((chosen - others).min())


@pytest.fixture(scope="module")
def tokenizer_dir(request: pytest.FixtureRequest) -> Path:
    return qwen_tokenizer_dir(request)


@pytest.fixture(scope="module")
def random_dir(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_qwen2_checkpoint(tmp_path_factory.mktemp("tiny-llm"), tokenizer_folder=tokenizer_dir,
                                 max_positions=64)


@pytest.fixture(scope="module")
def random_chat(random_dir: Path) -> ChatModel:
    return ChatModel.load(random_dir, device="cpu")


@pytest.fixture(scope="module")
def taught(tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ChatModel:
    folder = overfit_checkpoint(tmp_path_factory.mktemp("taught-llm"), tokenizer_dir, TAUGHT)
    return ChatModel.load(folder, device="cpu")


def test_generate_is_deterministic_and_stays_within_the_context(random_chat: ChatModel) -> None:
    first = random_chat.generate(ASK, max_new_tokens=6)
    assert first == random_chat.generate(ASK, max_new_tokens=6)
    assert first.prompt_tokens == random_chat.count_tokens(ASK) and 1 <= first.completion_tokens <= 6
    assert first.finish_reason == "stop" or first.completion_tokens == 6
    words = "合同纠纷，违约金，起诉，律师，判决，执行，证据，仲裁，调解，赔偿，利息，欠款，借条，担保，抵押，诉讼时效，"
    long = [{"role": "user", "content": words}]
    prompt = random_chat.count_tokens(long)
    assert 40 < prompt < 63
    reply = random_chat.generate(long, max_new_tokens=500)  # clipped to the 64 positions
    assert reply.prompt_tokens + reply.completion_tokens <= 64
    assert reply.finish_reason == "stop" or reply.prompt_tokens + reply.completion_tokens == 64


def test_sampling_is_reproducible_with_a_seed(random_chat: ChatModel) -> None:
    sampled = [random_chat.generate(ASK, max_new_tokens=8, temperature=1.5, top_p=0.95, seed=s) for s in (1, 1, 2)]
    assert sampled[0] == sampled[1]
    streamed = random_chat.stream(ASK, max_new_tokens=8, temperature=1.5, top_p=0.95, seed=1)
    assert "".join(streamed) == sampled[0].text and streamed.reply == sampled[0]
    greedy = random_chat.generate(ASK, max_new_tokens=8)
    assert sampled[0] != greedy or sampled[2] != greedy  # sampling really samples


def test_a_prompt_longer_than_the_model_reads_is_refused(random_chat: ChatModel) -> None:
    too_long = [{"role": "user", "content": "合同纠纷" * 40}]
    with pytest.raises(PromptTooLong, match=r"prompt of \d+ tokens, the model reads at most 63") as caught:
        random_chat.generate(too_long)
    assert caught.value.prompt_tokens == random_chat.count_tokens(too_long) and caught.value.limit == 63
    with pytest.raises(PromptTooLong):
        random_chat.stream(too_long)  # refused before any piece is produced


def test_batched_generation_equals_one_by_one(random_chat: ChatModel) -> None:
    conversations = [ASK, [{"role": "user", "content": "你好"}],
                     [{"role": "system", "content": "简洁回答。"}, {"role": "user", "content": "什么是违约金？"}]]
    batched = random_chat.generate_batch(conversations, max_new_tokens=10)
    assert batched == [random_chat.generate(c, max_new_tokens=10) for c in conversations]
    assert len({r.prompt_tokens for r in batched}) == 3  # really padded: three prompt lengths


def test_stream_pieces_join_to_the_generated_reply(random_chat: ChatModel) -> None:
    stream = random_chat.stream(ASK, max_new_tokens=12)
    pieces = list(stream)
    assert "".join(pieces) == random_chat.generate(ASK, max_new_tokens=12).text
    assert stream.reply == random_chat.generate(ASK, max_new_tokens=12)
    early = random_chat.stream(ASK, max_new_tokens=200)
    for _ in early:
        break  # leaving early stops the generation and frees the model
    assert random_chat.generate(ASK, max_new_tokens=3).completion_tokens <= 3


def test_streamed_chinese_is_never_split_and_matches_the_taught_reply(taught: ChatModel) -> None:
    assert len(taught.tokenizer.encode(RARE, add_special_tokens=False)) > 1
    prompt, answer = TAUGHT[0][:-1], TAUGHT[0][-1]["content"]
    reply = taught.generate(prompt, max_new_tokens=40)
    assert reply.text == answer and reply.finish_reason == "stop"
    stream = taught.stream(prompt, max_new_tokens=40)
    pieces = list(stream)
    assert "".join(pieces) == answer and stream.reply == reply
    assert all("\ufffd" not in piece for piece in pieces) and RARE in pieces  # the character comes whole
    assert len(pieces) > 5  # streamed piece by piece, not in one block


def test_loglikelihood_prefers_the_taught_reply(taught: ChatModel) -> None:
    for conversation in TAUGHT:
        prompt, taught_reply = conversation[:-1], conversation[-1]["content"]
        options = ["我不知道。", taught_reply, "请咨询当地的律师事务所。"]
        assert taught.choose(prompt, options) == 1
        scores = taught.loglikelihoods(prompt, options)
        assert scores[1] == pytest.approx(taught.loglikelihood(prompt, taught_reply), abs=1e-4)
        assert scores[1] > max(scores[0], scores[2]) and all(s < 0 for s in scores)


def test_loading_from_bytes_equals_loading_the_folder(random_dir: Path, random_chat: ChatModel,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    read: list[str] = []

    def reader(path: Path) -> bytes:
        read.append(path.name)
        return path.read_bytes()

    from_bytes = ChatModel.load(random_dir, read=reader, device="cpu")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(read)
    assert list(scratch.iterdir()) == []  # the private tokenizer folder is gone
    ours, theirs = from_bytes.model.state_dict(), random_chat.model.state_dict()
    assert ours.keys() == theirs.keys() and all(bool((ours[k] == theirs[k]).all()) for k in ours)
    assert from_bytes.model.lm_head.weight is from_bytes.model.model.embed_tokens.weight  # tied again
    assert from_bytes.generate(ASK, max_new_tokens=8) == random_chat.generate(ASK, max_new_tokens=8)
    with pytest.raises(Exception, match="no config.json"):
        ChatModel.load(tmp_path, read=reader)


def test_a_lora_adapter_is_applied_unmerged(random_dir: Path, random_chat: ChatModel, tmp_path: Path) -> None:
    import peft
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(str(random_dir))
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM",
                             init_lora_weights=False)  # random B: the adapter changes the model
    peft.get_peft_model(base, config).save_pretrained(str(tmp_path / "adapter"))
    chat = ChatModel.load(random_dir, adapter=tmp_path / "adapter", device="cpu")
    assert isinstance(chat.model, peft.PeftModel)
    reference = peft.PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(random_dir)),
                                               str(tmp_path / "adapter")).eval()
    ids = torch.tensor([chat.prompt_ids(ASK)])
    with torch.inference_mode():
        ours, theirs = chat.model(input_ids=ids).logits, reference(input_ids=ids).logits
        plain = random_chat.model(input_ids=ids).logits
    assert torch.allclose(ours, theirs, atol=1e-5) and not torch.allclose(ours, plain, atol=1e-3)
    from_bytes = ChatModel.load(random_dir, adapter=tmp_path / "adapter", read=lambda p: p.read_bytes(),
                                device="cpu")
    assert from_bytes.generate(ASK, max_new_tokens=8) == chat.generate(ASK, max_new_tokens=8)
