"""Optional LLM-as-judge: an OpenAI-compatible endpoint scores each answer 1–5 for correctness against the
reference; replies that cannot be read are counted, never fatal."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Protocol

from mofang.core.errors import MofangError


class ChatClient(Protocol):
    """What the judge needs of an endpoint (mofang.tasks.llm.models.endpoint.EndpointClient fits)."""

    def chat(self, messages: Sequence[dict[str, str]], *, max_tokens: int = ..., temperature: float = ...) -> str:
        ...


JUDGE_RUBRIC = (
    "你是一名严格的评测员。请对照参考答案，判断模型回答在事实与结论上是否正确，并给出 1–5 分：\n"
    "5 = 完全正确，与参考答案一致；4 = 基本正确，仅有细微遗漏；3 = 部分正确；2 = 大部分错误；"
    "1 = 完全错误、答非所问或编造内容。\n"
    "You are a strict grader. Compare the model answer with the reference answer and score its correctness 1-5: "
    "5 fully correct, 4 mostly correct with minor omissions, 3 partly correct, 2 mostly wrong, "
    "1 wrong, off-topic or made up.\n"
    '只输出 JSON / Output JSON only: {"score": <1-5>, "reason": "<一句话理由 / one-sentence reason>"}'
)

_JSON_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)
_DIGIT = re.compile(r"(?<![\d.])[1-5](?![\d.])")


def judge_messages(question: str, reference: str, answer: str) -> list[dict[str, str]]:
    """The chat messages asking the judge to score one answer."""
    user = f"问题 / Question:\n{question}\n\n参考答案 / Reference:\n{reference}\n\n模型回答 / Answer:\n{answer}"
    return [{"role": "system", "content": JUDGE_RUBRIC}, {"role": "user", "content": user}]


def parse_score(reply: str) -> tuple[int | None, str]:
    """(score 1–5, reason) from a judge reply: a JSON object with "score" (and "reason"), else the first standalone
    digit 1–5 in the text; (None, "") when neither is there."""
    for block in _JSON_OBJECT.findall(reply or ""):
        try:
            data = json.loads(block)
        except ValueError:
            continue
        if isinstance(data, dict) and "score" in data:
            try:
                score = float(data["score"])
            except (TypeError, ValueError):
                continue
            if 1 <= score <= 5:
                return round(score), str(data.get("reason") or "")
    match = _DIGIT.search(reply or "")
    return (int(match.group()), "") if match else (None, "")


def judge_answers(client: ChatClient, questions: Sequence[str], references: Sequence[str], answers: Sequence[str],
                  *, max_rows: int = 50) -> dict[str, Any]:
    """Ask `client` to score the first `max_rows` answers against their references. Returns {"judge_score": mean
    of (score - 1) / 4 over the parsed rows (None when none parsed), "judged": parsed rows, "unparsed": rows whose
    reply held no score, "rows": [{"row", "score", "reason", "reply"}]}. Endpoint errors propagate."""
    if not (len(questions) == len(references) == len(answers)):
        raise MofangError(f"judge: {len(questions)} questions, {len(references)} references and {len(answers)} "
                          "answers; they must be as many")
    if not questions:
        raise MofangError("judge: no answers to judge")
    if max_rows < 1:
        raise MofangError(f"judge: max_rows must be at least 1, got {max_rows}")
    rows: list[dict[str, Any]] = []
    for i, (question, reference, answer) in enumerate(zip(questions, references, answers, strict=True)):
        if i >= max_rows:
            break
        reply = client.chat(judge_messages(str(question), str(reference), str(answer)), max_tokens=256,
                            temperature=0.0)
        score, reason = parse_score(reply)
        rows.append({"row": i, "score": score, "reason": reason, "reply": reply})
    scores = [(r["score"] - 1) / 4 for r in rows if r["score"] is not None]
    return {"judge_score": sum(scores) / len(scores) if scores else None, "judged": len(scores),
            "unparsed": len(rows) - len(scores), "rows": rows}
