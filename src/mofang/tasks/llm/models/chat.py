"""A local chat model: an HF causal-LM checkpoint (optionally a LoRA adapter on top) that answers conversations,
streams replies and scores continuations by log-likelihood.

Loaded from a folder, or from its files' plaintext through `read` (an encrypted bundle: weights stay in memory,
only the tokenizer files pass through a private temporary folder). One generation runs at a time (a module lock:
the torch RNG is seeded per call and CPU threads are shared).
"""

from __future__ import annotations

import json
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mofang.core.errors import MofangError
from mofang.models.transformer import chat_templates as templates
from mofang.models.transformer.runtime import load_tokenizer, quiet_transformers, require_nlp

Reader = Callable[[Path], bytes]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                   "vocab.json", "merges.txt", "tokenizer.model", "chat_template.jinja", "chat_template.json",
                   "qwen.tiktoken")
WEIGHTS, WEIGHTS_INDEX = "model.safetensors", "model.safetensors.index.json"
ADAPTER_CONFIG, ADAPTER_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
_LOCK = threading.RLock()
_DONE = object()


class PromptTooLong(MofangError):
    """A conversation longer than the model reads; carries the counts for an HTTP 400."""

    def __init__(self, prompt_tokens: int, limit: int, positions: int) -> None:
        self.prompt_tokens, self.limit = prompt_tokens, limit
        super().__init__(f"prompt of {prompt_tokens} tokens, the model reads at most {limit} "
                         f"({positions} positions, one kept for the reply)")


@dataclass
class Reply:
    """One generated assistant reply and its token counts (the stop token counts as generated)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of turn) or "length" (max_new_tokens or the context was used up)


class ChatModel:
    """A causal LM with its tokenizer and chat template, in eval mode."""

    def __init__(self, model: Any, tokenizer: Any, template: str, device: str) -> None:
        self.model, self.tokenizer, self.template, self.device = model, tokenizer, template, device
        self.stop_ids = templates.end_of_turn_ids(tokenizer, template)
        self.max_positions = int(getattr(model.config, "max_position_embeddings", 0) or tokenizer.model_max_length)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.stop_ids[0]

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def load(cls, folder: str | Path, *, adapter: str | Path | None = None, read: Reader | None = None,
             chat_template: str | None = None, device: str = "auto") -> ChatModel:
        """The checkpoint in `folder` (config, safetensors, tokenizer files), a peft LoRA `adapter` folder applied
        on top (not merged); `read(path)` gives a file's plaintext (encrypted bundles); `chat_template` overrides
        the tokenizer's (a name in templates.NAMED or Jinja text). Device "auto": cuda (bfloat16) else cpu."""
        torch, transformers = require_nlp()
        folder = Path(folder)
        device, dtype = _device(device)
        if not (folder / "config.json").is_file():
            raise MofangError(f"{folder} is not a model checkpoint (no config.json)")
        with quiet_transformers():
            if read is None:
                tokenizer = load_tokenizer(folder)
                try:
                    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype,
                                                                              local_files_only=True)
                except (OSError, ValueError) as exc:
                    raise MofangError(f"cannot load the causal language model in {folder}: {exc}") from None
            else:
                tokenizer = _tokenizer_from(folder, read)
                model = _model_from(folder, read, dtype)
            if adapter is not None:
                model = _with_adapter(model, Path(adapter), read or _read_plain)
        model.to(device).eval()
        template = templates.chat_template(tokenizer, chat_template, where=str(folder))
        return cls(model, tokenizer, template, device)

    # -- prompts ---------------------------------------------------------------------------------
    def prompt_ids(self, messages: Sequence[templates.Message]) -> list[int]:
        """The conversation rendered with the generation prompt, in token ids."""
        templates.check_messages(messages)
        return templates.render_ids(self.tokenizer, messages, self.template, generation_prompt=True)

    def count_tokens(self, messages: Sequence[templates.Message]) -> int:
        return len(self.prompt_ids(messages))

    def _checked(self, messages: Sequence[templates.Message], max_new_tokens: int) -> tuple[list[int], int]:
        """Prompt ids and the reply budget: max_new_tokens clipped so prompt + reply fit the positions."""
        ids = self.prompt_ids(messages)
        if len(ids) > self.max_positions - 1:
            raise PromptTooLong(len(ids), self.max_positions - 1, self.max_positions)
        if max_new_tokens < 1:
            raise MofangError(f"max_new_tokens must be at least 1, not {max_new_tokens}")
        return ids, min(max_new_tokens, self.max_positions - len(ids))

    # -- generating ------------------------------------------------------------------------------
    def generate(self, messages: Sequence[templates.Message], *, max_new_tokens: int = 256,
                 temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None) -> Reply:
        """The assistant's reply (greedy when temperature is 0)."""
        return self.generate_batch([messages], max_new_tokens=max_new_tokens, temperature=temperature,
                                   top_p=top_p, seed=seed)[0]

    def generate_batch(self, conversations: Sequence[Sequence[templates.Message]], *, max_new_tokens: int = 256,
                       temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None,
                       batch_size: int = 8) -> list[Reply]:
        """Replies to many conversations, left-padded in batches of conversations with the same reply budget
        (greedy: the same replies as one by one)."""
        checked = [self._checked(messages, max_new_tokens) for messages in conversations]
        groups: dict[int, list[int]] = {}
        for index, (_, budget) in enumerate(checked):
            groups.setdefault(budget, []).append(index)
        replies: list[Reply | None] = [None] * len(checked)
        with _LOCK:
            _seed(seed, temperature)
            for budget, members in groups.items():
                for start in range(0, len(members), batch_size):
                    chunk = members[start:start + batch_size]
                    outputs = self._run([checked[i][0] for i in chunk], budget, temperature, top_p)
                    for i, tokens in zip(chunk, outputs, strict=True):
                        replies[i] = self._reply(len(checked[i][0]), tokens, budget)
        return [r for r in replies if r is not None]

    def stream(self, messages: Sequence[templates.Message], *, max_new_tokens: int = 256, temperature: float = 0.0,
               top_p: float = 1.0, seed: int | None = None) -> ReplyStream:
        """The reply as text pieces while it is produced; `.reply` holds the whole Reply once exhausted. The
        prompt is checked now (PromptTooLong before any piece)."""
        ids, budget = self._checked(messages, max_new_tokens)
        return ReplyStream(self, ids, budget, temperature, top_p, seed)

    def _run(self, prompts: list[list[int]], budget: int, temperature: float, top_p: float,
             streamer: Any = None, stopping: Any = None) -> list[list[int]]:
        """New token ids per prompt (left-padded batch), pads removed."""
        torch, transformers = require_nlp()
        width = max(len(p) for p in prompts)
        input_ids = torch.tensor([[self.pad_id] * (width - len(p)) + p for p in prompts], device=self.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        options: dict[str, Any] = {"do_sample": temperature > 0}
        if temperature > 0:
            options.update(temperature=temperature, top_p=top_p, top_k=0)
        config = transformers.GenerationConfig(max_new_tokens=budget, eos_token_id=self.stop_ids,
                                               pad_token_id=self.pad_id, **options)
        with torch.inference_mode(), quiet_transformers():
            output = self.model.generate(input_ids=input_ids, attention_mask=mask, generation_config=config,
                                         streamer=streamer, stopping_criteria=stopping)
        return [row[width:].tolist() for row in output]

    def _reply(self, prompt_tokens: int, tokens: list[int], budget: int) -> Reply:
        """Cut a row of new tokens at its first stop token (or its budget) and decode it."""
        tokens = tokens[:budget]
        stop = next((i for i, t in enumerate(tokens) if t in self.stop_ids), None)
        if stop is not None:
            return Reply(self.decode(tokens[:stop]), prompt_tokens, stop + 1, "stop")
        return Reply(self.decode(tokens), prompt_tokens, len(tokens), "length")

    def decode(self, tokens: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(tokens), skip_special_tokens=True))

    # -- scoring ---------------------------------------------------------------------------------
    def loglikelihood(self, messages: Sequence[templates.Message], continuation: str) -> float:
        """Sum of the log-probabilities of `continuation` as the assistant's reply to `messages` (its tokens
        and its end-of-turn token, as SFT trains them)."""
        return self.loglikelihoods(messages, [continuation])[0]

    def choose(self, messages: Sequence[templates.Message], options: Sequence[str]) -> int:
        """The index of the option the model finds most likely as its reply."""
        if not options:
            raise MofangError("choose: no options to choose from")
        scores = self.loglikelihoods(messages, options)
        return max(range(len(scores)), key=scores.__getitem__)

    def loglikelihoods(self, messages: Sequence[templates.Message], options: Sequence[str]) -> list[float]:
        """`loglikelihood` of each option, in one right-padded forward pass."""
        torch, _ = require_nlp()
        templates.check_messages(messages)
        rows = [templates.supervised_ids(self.tokenizer, [*messages, {"role": "assistant", "content": option}],
                                         self.template) for option in options]
        longest = max(len(ids) for ids, _ in rows)
        if longest > self.max_positions:
            raise PromptTooLong(longest, self.max_positions - 1, self.max_positions)
        ids = torch.tensor([i + [self.pad_id] * (longest - len(i)) for i, _ in rows], device=self.device)
        labels = torch.tensor([lab + [templates.IGNORE] * (longest - len(lab)) for _, lab in rows], device=self.device)
        mask = (torch.arange(longest, device=self.device)[None, :]
                < torch.tensor([len(i) for i, _ in rows], device=self.device)[:, None]).long()
        with _LOCK, torch.inference_mode():
            logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        target = labels[:, 1:]
        keep = target != templates.IGNORE
        picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return [float(v) for v in (picked * keep).sum(dim=1).tolist()]


class ReplyStream:
    """Iterate for the reply's text pieces (each decodes to whole characters); `.reply` once exhausted. Leaving
    the loop early stops the generation at its next token."""

    def __init__(self, chat: ChatModel, ids: list[int], budget: int, temperature: float, top_p: float,
                 seed: int | None) -> None:
        self.chat, self.ids, self.budget = chat, ids, budget
        self.temperature, self.top_p, self.seed = temperature, top_p, seed
        self.reply: Reply | None = None
        self._tokens: queue.Queue[Any] = queue.Queue()
        self._cancelled = threading.Event()

    def __iter__(self) -> Iterator[str]:
        thread = threading.Thread(target=self._generate, daemon=True, name="mofang-llm-stream")
        thread.start()
        tokens: list[int] = []
        emitted, finish = "", "length"
        try:
            while True:
                item = self._tokens.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                if len(tokens) >= self.budget:
                    continue
                if item in self.chat.stop_ids:
                    tokens.append(item)
                    finish = "stop"
                    break
                tokens.append(item)
                text = self.chat.decode(tokens)
                if not text.endswith("\ufffd") and len(text) > len(emitted):  # a multi-byte character completed
                    piece, emitted = text[len(emitted):], text
                    yield piece
            body = tokens[:-1] if finish == "stop" else tokens
            text = self.chat.decode(body)
            if len(text) > len(emitted):
                yield text[len(emitted):]
            self.reply = Reply(text, len(self.ids), len(tokens), finish)
        finally:
            self._cancelled.set()
            thread.join()

    def _generate(self) -> None:
        torch, transformers = require_nlp()
        cancelled = self._cancelled

        class Feed(transformers.generation.streamers.BaseStreamer):
            first = True

            def put(inner, value: Any) -> None:  # noqa: N805 - the outer self is the stream
                if inner.first:  # the prompt comes first
                    inner.first = False
                    return
                for token in value.reshape(-1).tolist():
                    self._tokens.put(int(token))

            def end(inner) -> None:  # noqa: N805
                pass

        class Cancelled(transformers.StoppingCriteria):
            def __call__(inner, input_ids: Any, scores: Any, **kwargs: Any) -> Any:  # noqa: N805
                return torch.full((input_ids.shape[0],), cancelled.is_set(), dtype=torch.bool,
                                  device=input_ids.device)

        try:
            with _LOCK:
                _seed(self.seed, self.temperature)
                self.chat._run([self.ids], self.budget, self.temperature, self.top_p, Feed(),
                               transformers.StoppingCriteriaList([Cancelled()]))
        except BaseException as exc:  # noqa: BLE001 - handed to the reader, raised there
            self._tokens.put(exc)
        finally:
            self._tokens.put(_DONE)


def _seed(seed: int | None, temperature: float) -> None:
    if seed is not None and temperature > 0:
        torch, _ = require_nlp()
        torch.manual_seed(seed)


def _device(device: str) -> tuple[str, Any]:
    """The torch device and dtype: cuda in bfloat16 when there is one (for "auto"), else cpu in float32."""
    torch, _ = require_nlp()
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MofangError(f"device {device!r} asked for, but torch sees no CUDA device")
    return device, torch.bfloat16 if device.startswith("cuda") else torch.float32


def _read_plain(path: Path) -> bytes:
    return Path(path).read_bytes()


def _read(read: Reader, path: Path, what: str) -> bytes:
    try:
        return read(path)
    except FileNotFoundError:
        raise MofangError(f"{path.parent} has no {path.name} ({what})") from None


def _tokenizer_from(folder: Path, read: Reader) -> Any:
    """The tokenizer from its files' plaintext, copied into a private temporary folder removed after loading."""
    private = Path(tempfile.mkdtemp(prefix="mofang-tokenizer-"))  # mode 0700
    try:
        for name in TOKENIZER_FILES:
            if (folder / name).is_file():
                (private / name).write_bytes(read(folder / name))
        return load_tokenizer(private)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _model_from(folder: Path, read: Reader, dtype: Any) -> Any:
    """The model built from its config and filled with its safetensors weights, in memory (tied weights tied)."""
    _, transformers = require_nlp()
    from safetensors.torch import load as load_safetensors

    settings = json.loads(_read(read, folder / "config.json", "the model config"))
    model_type = settings.get("model_type")
    if model_type not in transformers.CONFIG_MAPPING:
        raise MofangError(f"{folder}/config.json: unknown model_type {model_type!r}")
    config = transformers.CONFIG_MAPPING[model_type].from_dict(settings)
    if (folder / WEIGHTS_INDEX).is_file():
        index = json.loads(read(folder / WEIGHTS_INDEX))
        shards = sorted(set(index["weight_map"].values()))
    elif (folder / WEIGHTS).is_file():
        shards = [WEIGHTS]
    else:
        raise MofangError(f"{folder} has no {WEIGHTS} (only safetensors weights are read)")
    state: dict[str, Any] = {}
    for shard in shards:
        state.update(load_safetensors(_read(read, folder / shard, "a weight shard")))
    model = transformers.AutoModelForCausalLM.from_config(config)
    missing, _ = model.load_state_dict(state, strict=False)
    model.tie_weights()
    loaded = {id(p) for name, p in model.named_parameters(remove_duplicate=False) if name in state}
    untied = [name for name in missing if name in dict(model.named_parameters(remove_duplicate=False))
              and id(model.get_parameter(name)) not in loaded]
    if untied:
        raise MofangError(f"{folder}: the weights lack {', '.join(untied[:5])}"
                          + (f" and {len(untied) - 5} more" if len(untied) > 5 else ""))
    return model.to(dtype)


def _with_adapter(model: Any, folder: Path, read: Reader) -> Any:
    """The model with the peft adapter in `folder` applied (not merged), its weights read into memory."""
    import peft
    from peft.auto import MODEL_TYPE_TO_PEFT_MODEL_MAPPING
    from safetensors.torch import load as load_safetensors

    if not (folder / ADAPTER_CONFIG).is_file():
        raise MofangError(f"{folder} is not a peft adapter (no {ADAPTER_CONFIG})")
    settings = json.loads(read(folder / ADAPTER_CONFIG))
    settings.pop("runtime_config", None)
    config = peft.PeftConfig.from_peft_type(**peft.PeftConfig.check_kwargs(**settings))
    config.inference_mode = True
    wrapper = MODEL_TYPE_TO_PEFT_MODEL_MAPPING.get(config.task_type, peft.PeftModel)
    wrapped = wrapper(model, config)
    weights = load_safetensors(_read(read, folder / ADAPTER_WEIGHTS, "the adapter weights"))
    result = peft.set_peft_model_state_dict(wrapped, weights)
    missing = [key for key in result.missing_keys if "lora_" in key]
    if missing:
        raise MofangError(f"{folder}: the adapter weights lack {', '.join(missing[:5])}")
    return wrapped
