"""Retrieval-augmented prompting: passages from a retrieval-qa model, numbered in the prompt, cited as [n] in the
answer; a question the passages do not answer gets the refusal message."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mofang.core.errors import MofangError
from mofang.models.transformer.chat_templates import Message

REFUSALS = {"zh": "抱歉，资料中没有找到这个问题的答案。",
            "en": "Sorry, the reference material does not answer this question."}
_INSTRUCTIONS = {
    "zh": ("请只根据下面编号的资料回答问题，并在所依据的内容后用 [编号] 标注出处（例如 [1]）。"
           "如果资料中没有答案，请只回复：{refusal}"),
    "en": ("Answer the question using only the numbered passages below, citing each passage you use as [n] "
           "(e.g. [1]). If the passages do not contain the answer, reply only: {refusal}"),
}
_LABELS = {"zh": ("资料", "问题", "来源"), "en": ("Passages", "Question", "source")}
_CITED = re.compile(r"[\[【]\s*(\d+(?:\s*[,，、]\s*\d+)*)\s*[\]】]")


def rag_messages(question: str, passages: Sequence[dict[str, Any]], *, system_prompt: str = "",
                 language: str = "zh", refusal_message: str | None = None,
                 history: Sequence[Message] = ()) -> list[Message]:
    """The conversation that asks `question` over numbered `passages` ({"text", "source"}): the system prompt
    (when given), earlier turns of `history`, then one user turn holding the instruction, the passages with
    their sources and the question."""
    if language not in _INSTRUCTIONS:
        raise MofangError(f"RAG prompts are written in {', '.join(_INSTRUCTIONS)}, not {language!r}")
    refusal = refusal_message or REFUSALS[language]
    heading, asked, source_word = _LABELS[language]
    lines = []
    for number, passage in enumerate(passages, start=1):
        source = format_source(passage.get("source"))
        lines.append(f"[{number}] {passage['text']}" + (f"（{source_word}：{source}）" if language == "zh" and source
                                                         else f" ({source_word}: {source})" if source else ""))
    body = (f"{_INSTRUCTIONS[language].format(refusal=refusal)}\n\n{heading}：\n" if language == "zh"
            else f"{_INSTRUCTIONS[language].format(refusal=refusal)}\n\n{heading}:\n")
    body += "\n".join(lines) + (f"\n\n{asked}：{question}" if language == "zh" else f"\n\n{asked}: {question}")
    messages: list[Message] = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [dict(m) for m in history if m["role"] != "system"]
    messages.append({"role": "user", "content": body})
    return messages


def format_source(source: Any) -> str:
    """A passage's source as prompt text: a dict as `key: value` pairs, anything else as text."""
    if not source:
        return ""
    if isinstance(source, dict):
        return "，".join(f"{k}: {v}" for k, v in source.items() if v not in (None, ""))
    return str(source)


def citations(answer: str, passages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The passages the answer cites as [n] (also [1, 2] and 【n】), first citation first, each once; numbers
    outside the passages are ignored."""
    seen: list[int] = []
    for match in _CITED.finditer(answer or ""):
        for number in re.split(r"\s*[,，、]\s*", match.group(1)):
            index = int(number)
            if 1 <= index <= len(passages) and index not in seen:
                seen.append(index)
    return [{"index": i, "source": passages[i - 1].get("source"), "text": passages[i - 1]["text"]} for i in seen]


def retrieve(retriever: Any, question: str, k: int) -> list[dict[str, Any]]:
    """The `k` best passages of a retrieval-qa model (`RetrievalModel.ask`) as {"text", "source", "score"};
    an empty list when it answers "no answer"."""
    found = retriever.ask(question, k)
    if found.get("no_answer"):
        return []
    return [{"text": a["answer"], "source": a.get("source"), "score": a.get("score")} for a in found["answers"]]
