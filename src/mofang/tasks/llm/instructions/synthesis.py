"""Optional synthesis of instruction pairs from passages through an OpenAI-compatible endpoint; pairs whose answer
the passage does not support (the grounding check of the evaluation center) are dropped."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from mofang.core.errors import MofangError
from mofang.core.metrics.generation import tokens
from mofang.core.metrics.grounding import grounding, support
from mofang.tasks.llm.instructions.frame import canonical_frame
from mofang.tasks.llm.judge import ChatClient

PROMPTS = {
    "zh": ("你是一名严谨的数据标注专家，根据给定文本编写问答对，用于训练行业问答模型。",
           "请根据下面的文本提出 {n} 个问题，并给出答案。答案必须直接依据文本内容（尽量使用原文表述），"
           "不得加入文本以外的信息。只输出 JSON 数组，格式为："
           '[{{"question": "问题", "answer": "答案"}}]\n\n文本：\n{passage}'),
    "en": ("You are a careful annotator writing question-answer pairs from a given text to train a domain QA model.",
           "Write {n} question(s) about the text below, each with its answer. Answers must come straight from the "
           "text (reuse its wording) and add nothing the text does not say. Output a JSON array only: "
           '[{{"question": "...", "answer": "..."}}]\n\nText:\n{passage}'),
}
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def synthesis_messages(passage: str, n: int, language: str = "zh") -> list[dict[str, str]]:
    """The chat messages asking for `n` question-answer pairs grounded in `passage`."""
    if language not in PROMPTS:
        raise MofangError(f"synthesis: language must be one of {sorted(PROMPTS)}, got {language!r}")
    system, user = PROMPTS[language]
    return [{"role": "system", "content": system}, {"role": "user", "content": user.format(n=n, passage=passage)}]


def parse_pairs(reply: str) -> list[Any] | None:
    """The items of the JSON array in a reply (code fences and text around it allowed; a single object counts as
    one item), or None when the reply holds no JSON array or object."""
    text = reply or ""
    fenced = _FENCE.search(text)
    candidates = [fenced.group(1)] if fenced else []
    candidates.append(text)
    for open_, close in (("[", "]"), ("{", "}")):
        start, end = text.find(open_), text.rfind(close)
        if 0 <= start < end:
            candidates.append(text[start:end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate.strip())
        except ValueError:
            continue
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            return [data]
    return None


def is_grounded(answer: str, passage: str, threshold: float = 0.5) -> bool:
    """Every claim of `answer` is supported by `passage`; an answer too short to hold a claim must itself have
    support >= threshold."""
    check = grounding(answer, [passage], threshold)
    if check.claims:
        return check.hallucinations == 0
    return bool(tokens(answer)) and support(answer, passage) >= threshold


def synthesize_pairs(client: ChatClient, passages: Sequence[str], *, per_passage: int = 1, max_pairs: int = 100,
                     language: str = "zh", threshold: float = 0.5) -> pd.DataFrame:
    """Ask `client` for `per_passage` question-answer pairs per passage (until `max_pairs` are kept) and keep the
    well-formed, new and grounded ones. The canonical instruction frame (system, history, prompt, response) plus
    `source_passage`; `frame.attrs["synthesis"]` counts passages, asked, received, kept, dropped (= received -
    kept: malformed + duplicate + ungrounded + over_limit) and unparsed_replies. Endpoint errors propagate."""
    if per_passage < 1 or max_pairs < 1:
        raise MofangError(f"synthesis: per_passage and max_pairs must be at least 1, got {per_passage} and "
                          f"{max_pairs}")
    texts = [str(p).strip() for p in passages if p is not None and str(p).strip()]
    if not texts:
        raise MofangError("synthesis: no passages to synthesize pairs from")
    synthesis_messages("", per_passage, language)  # checks the language before any call
    counts = dict.fromkeys(("passages", "asked", "received", "kept", "malformed", "duplicate", "ungrounded",
                            "over_limit", "unparsed_replies"), 0)
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for passage in texts:
        if len(rows) >= max_pairs:
            break
        counts["passages"] += 1
        counts["asked"] += per_passage
        items = parse_pairs(client.chat(synthesis_messages(passage, per_passage, language),
                                        max_tokens=256 + 256 * per_passage, temperature=0.0))
        if items is None:
            counts["unparsed_replies"] += 1
            continue
        for item in items:
            counts["received"] += 1
            question, answer = _pair(item)
            if not question or not answer:
                counts["malformed"] += 1
            elif question in seen:
                counts["duplicate"] += 1
            elif not is_grounded(answer, passage, threshold):
                counts["ungrounded"] += 1
            elif len(rows) >= max_pairs:
                counts["over_limit"] += 1
            else:
                seen.add(question)
                rows.append({"prompt": question, "response": answer, "source_passage": passage})
    counts["kept"] = len(rows)
    counts["dropped"] = counts["received"] - counts["kept"]
    extra = pd.DataFrame({"source_passage": [r["source_passage"] for r in rows]}, dtype=object)
    frame = canonical_frame(rows, extra)
    frame.attrs["synthesis"] = counts
    return frame


def _pair(item: Any) -> tuple[str, str]:
    """(question, answer) of one synthesized item, blank strings when it is not such a pair."""
    if not isinstance(item, dict):
        return "", ""
    question = item.get("question", item.get("instruction", item.get("问题")))
    answer = item.get("answer", item.get("output", item.get("答案")))
    if not isinstance(question, str) or not isinstance(answer, str):
        return "", ""
    return question.strip(), answer.strip()
