"""Chat templates: which one a base model uses, and conversations rendered to token ids for SFT and generation.

The template is the base model's own (`tokenizer.chat_template`, shipped in its tokenizer_config.json). An order
may name `chatml` (the ChatML layout of Qwen, Yi, ...) or give a Jinja template when its checkpoint has none;
nothing is guessed silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mofang.core.errors import MofangError

IGNORE = -100  # label of a token the loss does not read (prompt, system, user turns, padding)
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
NAMED = {"chatml": CHATML}
ROLES = ("system", "user", "assistant")

Message = dict[str, str]


def chat_template(tokenizer: Any, override: str | None = None, *, where: str = "the base model") -> str:
    """The Jinja chat template to use: `override` (a name in NAMED or Jinja text), else the tokenizer's own.

    Raises MofangError before any training when there is none, or when the template needs tokens the
    tokenizer lacks (ChatML's `<|im_start|>`/`<|im_end|>` must be single special tokens, or the model could
    never learn where a turn ends)."""
    if override:
        template = NAMED.get(override.strip().lower(), override)
        if template is override and "{%" not in override and "{{" not in override:
            raise MofangError(f"llm.chat_template {override!r} is neither a known template ({', '.join(NAMED)}) "
                              "nor Jinja text")
    else:
        template = getattr(tokenizer, "chat_template", None)
        if isinstance(template, dict):  # several named templates: the default one
            template = template.get("default")
        if not template:
            raise MofangError(f"the tokenizer of {where} has no chat template (tokenizer_config.json has no "
                              f"'chat_template'): set llm.chat_template in the order to one of "
                              f"{', '.join(NAMED)} or to a Jinja template")
    if "<|im_start|>" in template:
        for token in ("<|im_start|>", "<|im_end|>"):
            ids = tokenizer.convert_tokens_to_ids(token)
            if ids is None or ids == tokenizer.unk_token_id or len(tokenizer.encode(token,
                                                                                      add_special_tokens=False)) != 1:
                raise MofangError(f"the chat template uses {token}, which the tokenizer of {where} does not have "
                                  "as one token: give a template written for this tokenizer (llm.chat_template)")
    return template


def end_of_turn_ids(tokenizer: Any, template: str) -> list[int]:
    """Token ids that end an assistant turn: the template's turn end (`<|im_end|>` for ChatML) and eos."""
    ids = []
    if "<|im_end|>" in template:
        ids.append(tokenizer.convert_tokens_to_ids("<|im_end|>"))
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return list(dict.fromkeys(ids))


def check_messages(messages: Sequence[Message], where: str = "messages") -> None:
    """Roles known, content text, user/assistant alternating after an optional leading system message."""
    if not messages:
        raise MofangError(f"{where}: no messages")
    turns = list(messages)
    for index, message in enumerate(turns):
        if message.get("role") not in ROLES:
            raise MofangError(f"{where}[{index}]: role {message.get('role')!r} is not one of {', '.join(ROLES)}")
        if not isinstance(message.get("content"), str):
            raise MofangError(f"{where}[{index}]: content must be text")
        if message["role"] == "system" and index > 0:
            raise MofangError(f"{where}[{index}]: a system message may only come first")


def render_ids(tokenizer: Any, messages: Sequence[Message], template: str, *, generation_prompt: bool) -> list[int]:
    """The conversation as the model reads it, in token ids (special tokens of the template included)."""
    try:
        text = tokenizer.apply_chat_template(list(messages), chat_template=template, tokenize=False,
                                             add_generation_prompt=generation_prompt)
    except Exception as exc:  # jinja errors: the template's own fault, say so
        raise MofangError(f"the chat template failed to render a conversation: {exc}") from None
    return list(tokenizer.encode(text, add_special_tokens=False))


def supervised_ids(tokenizer: Any, messages: Sequence[Message], template: str) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of one conversation: labels are the ids of every assistant turn (its end-of-turn
    token included, so the model learns to stop) and IGNORE elsewhere.

    Each assistant turn's span is found by rendering the conversation up to it with and without the turn;
    a template whose earlier text changes when a turn is added is refused (its spans would be wrong)."""
    ids: list[int] = []
    labels: list[int] = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prefix = render_ids(tokenizer, messages[:index], template, generation_prompt=True)
        full = render_ids(tokenizer, messages[:index + 1], template, generation_prompt=False)
        if full[:len(prefix)] != prefix or prefix[:len(ids)] != ids:
            raise MofangError("the chat template renders earlier turns differently once a reply follows; "
                              "its assistant spans cannot be found (give llm.chat_template)")
        labels += [IGNORE] * (len(prefix) - len(ids)) + full[len(prefix):]
        ids = full
    if not ids:
        raise MofangError("the conversation has no assistant reply to learn from")
    return ids, labels
