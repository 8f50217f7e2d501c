"""Metrics of generated text (Chinese-aware): exact match, token F1, ROUGE-L (`rouge-score`), BLEU (`sacrebleu`),
multiple-choice letters, a refusal check and, with `mofang.core.metrics.grounding`, answered-rate and hallucination
(each claim of an answer checked against its sources)."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from mofang.core.errors import MofangError

# Han (incl. extension A and compatibility), kana and Hangul: scripts written without spaces, one token a character
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_HAS_CJK = re.compile(rf"[{_CJK}]")


def _nfkc(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "")


def tokens(text: str | None) -> list[str]:
    """Tokens of `text` after NFKC (full-width → half-width): each CJK character is a token, each run of
    letters/digits a lower-cased word; punctuation and whitespace are dropped. "北京ＡＢＣ 2024年！" →
    北 京 abc 2024 年."""
    return _TOKEN.findall(_nfkc(text).lower())


def normalize_answer(text: str | None) -> str:
    """NFKC, lower case, punctuation and whitespace removed: the form exact match compares."""
    return "".join(ch for ch in _nfkc(text).lower()
                   if not (ch.isspace() or unicodedata.category(ch).startswith(("P", "Z"))))


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when the normalised prediction equals the normalised reference, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style F1 of the two bags of `tokens` (1.0 when both are empty, 0.0 when only one is)."""
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


class _Tokenizer:
    """The tokenizer rouge-score calls (`tokenize(text) -> list[str]`): `tokens`, so Chinese is scored character by
    character (rouge-score's default tokenizer keeps only [a-z0-9] and would score any Chinese text 0)."""

    def tokenize(self, text: str) -> list[str]:
        return tokens(text)


@functools.lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False, tokenizer=_Tokenizer())


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure by Google's `rouge-score` (the reference implementation), on `tokens` (one token a CJK
    character, lower-cased words); 1.0 when both texts are empty."""
    if not tokens(prediction) and not tokens(reference):
        return 1.0
    return float(_rouge_scorer().score(_nfkc(reference), _nfkc(prediction))["rougeL"].fmeasure)


def bleu_tokenizer(texts: Sequence[str]) -> str:
    """The sacrebleu tokenizer for these texts: "zh" (Chinese split into characters, the rest as 13a) when any
    text holds a CJK character, else "13a" (the WMT standard)."""
    return "zh" if any(_HAS_CJK.search(t) for t in texts) else "13a"


def bleu(predictions: Sequence[str], references: Sequence[str | Sequence[str]], max_n: int = 4) -> float:
    """Corpus BLEU (0..1) by `sacrebleu` (its defaults: exponential smoothing, case-sensitive), after NFKC,
    with `bleu_tokenizer`'s tokenizer. Each reference is a string or a list of alternative strings (rows may
    have different numbers of them)."""
    from sacrebleu.metrics import BLEU

    if len(predictions) != len(references):
        raise MofangError(f"bleu: {len(predictions)} predictions but {len(references)} references")
    if max_n < 1:
        raise MofangError(f"bleu: max_n must be at least 1, got {max_n}")
    hyps = [_nfkc(p) for p in predictions]
    rows = [[_nfkc(r)] if isinstance(r, str) else [_nfkc(x) for x in r] for r in references]
    width = max((len(r) for r in rows), default=1) or 1
    # sacrebleu wants reference streams; a row with fewer alternatives is padded with None (skipped)
    streams: list[list[str | None]] = [[r[i] if i < len(r) else None for r in rows] for i in range(width)]
    if not any(h.strip() for h in hyps):
        return 0.0
    metric = BLEU(tokenize=bleu_tokenizer(hyps + [x for r in rows for x in r]), max_ngram_order=max_n)
    return float(metric.corpus_score(hyps, streams).score / 100.0)  # type: ignore[arg-type]


def sentence_bleu(prediction: str, reference: str | Sequence[str], max_n: int = 4) -> float:
    """BLEU of one prediction against its reference(s) by `sacrebleu`'s sentence BLEU (effective order, so a
    short sentence is not zeroed by a missing 4-gram)."""
    from sacrebleu.metrics import BLEU

    refs = [_nfkc(reference)] if isinstance(reference, str) else [_nfkc(r) for r in reference]
    hyp = _nfkc(prediction)
    if not hyp.strip():
        return 0.0
    metric = BLEU(tokenize=bleu_tokenizer([hyp, *refs]), max_ngram_order=max_n, effective_order=True)
    return float(metric.sentence_score(hyp, refs).score / 100.0)


# ---- multiple choice -------------------------------------------------------------------------------------------

_LETTERS = r"[A-F](?:\s*[,，、/和及与]?\s*[A-F])*"
_CHOICE_PATTERNS = (
    re.compile(rf"\[正确答案\]\s*({_LETTERS})\s*<eoa>"),                          # [正确答案]C<eoa>
    re.compile(rf"答案\s*[\]】]?\s*(?:应该|应当|应)?\s*(?:是|为|选)?\s*[:：]?\s*(?:选项)?\s*[(\[]?\s*({_LETTERS})(?![A-Za-z])"),
    re.compile(rf"(?i:answer)\s*(?:is\s*)?:?\s*(?:option\s*)?[(\[]?\s*({_LETTERS})(?![A-Za-z])"),  # answer is B
    re.compile(r"[(\[]\s*([A-F])\s*[)\]]"),                                           # (B)
    re.compile(rf"选(?:项|择)?\s*({_LETTERS})(?![A-Za-z])"),                           # 选B / 选项B
    re.compile(rf"^\s*({_LETTERS})\s*(?:$|[.。:：,，、)\]]|[{_CJK}])"),               # B。因为…  / B: …
)
_BARE = re.compile(rf"\s*({_LETTERS})\s*[.。]?\s*")


def choice_letter(text: str | None) -> str | None:
    """The option letter(s) A–F a model answer or reference picks, sorted and joined ("AC"), or None.

    Understands the LawBench formats `正确答案：B。`, `[正确答案]C<eoa>`, `答案是 A`, `(B)`, a bare `D`, and several
    letters `AB` / `A,C`; also "answer is B", `选B` and a leading letter such as `B。因为…`. The first match of the
    most specific format wins, so letters quoted later in an explanation are ignored."""
    text = _nfkc(text)
    bare = _BARE.fullmatch(text)
    found = bare.group(1) if bare else None
    for pattern in _CHOICE_PATTERNS:
        if found:
            break
        match = pattern.search(text)
        found = match.group(1) if match else None
    if not found:
        return None
    return "".join(sorted(set(re.findall(r"[A-F]", found))))


# ---- refusal ---------------------------------------------------------------------------------------------------

# Phrases (regular expressions, matched case-insensitively after NFKC) by which an answer declines to answer.
# Chinese: "cannot answer", "I/this assistant cannot provide…", "outside my/this service's scope" (not any
# 超出…范围, which law uses: 超出代理权范围), "sorry … not/cannot"; English: "I cannot / can't / am not able to /
# am unable to", "outside (of) my/the scope", "beyond my scope", "unable to answer", "sorry … can't".
REFUSAL_PHRASES: tuple[str, ...] = (
    r"无法回答", r"不能回答", r"无可奉告", r"恕.{0,4}(?:无法|不能)",
    r"(?:我|本助手|本系统|本服务)(?:暂时|目前)?(?:无法|不能)(?:为您|给您|向您)?(?:回答|提供|解答|回复)",
    r"(?:超出|超过|不在|不属于)了?(?:我|本)[^。，,]{0,10}范围",
    r"(?:超出|超过)了?[^。，,]{0,6}(?:回答|服务|知识|能力|咨询)范围",
    r"(?:抱歉|对不起|不好意思).{0,20}(?:不|无法|没有办法)",
    r"\bi\s+(?:cannot|can't|can\s+not|am\s+unable\s+to|am\s+not\s+able\s+to)\b",
    r"\bi'm\s+(?:not\s+able|unable)\s+to\b", r"\bi\s+(?:won't|will\s+not)\s+(?:answer|provide)\b",
    r"\b(?:outside|beyond)\s+(?:of\s+)?(?:my|the)\s+(?:\w+\s+)?scope\b", r"\bunable\s+to\s+(?:answer|help|assist)\b",
    r"\bsorry\b.{0,40}\b(?:can't|cannot|unable|not able)\b",
)
_REFUSAL = re.compile("|".join(f"(?:{p})" for p in REFUSAL_PHRASES), re.IGNORECASE | re.DOTALL)


def is_refusal(text: str | None, refusal_message: str | None = None) -> bool:
    """True when `text` is the configured refusal message (ROUGE-L >= 0.6 against it) or states a refusal by one
    of REFUSAL_PHRASES."""
    text = _nfkc(text).replace("’", "'")
    if refusal_message and rouge_l(text, refusal_message) >= 0.6:
        return True
    return bool(_REFUSAL.search(text))


# Phrases by which an answer says it does not know (not a refusal of the question, but no answer either)
UNKNOWN_PHRASES: tuple[str, ...] = (
    r"^\W*(?:我|本助手)?(?:也|并|真的)?(?:不知道|不清楚|不确定)\W*$", r"(?:我|本助手)(?:也|并|真的)?(?:不知道|不清楚)",
    r"没有(?:找到)?[^。，,；;]{0,12}(?:相关|对应|接近|合适)的?(?:答案|信息|资料)",
    r"\bi\s+(?:do\s+not|don't|dont)\s+know\b",
    r"\b(?:has|have|found)\s+no\s+(?:\w+\s+)?answer\b", r"\bno\s+answer\s+(?:was\s+)?(?:found|close|available)\b",
    r"^\W*(?:unknown|no\s+answer|n/?a)\W*$",
)
_UNKNOWN = re.compile("|".join(f"(?:{p})" for p in UNKNOWN_PHRASES), re.IGNORECASE | re.DOTALL)


def is_unanswered(text: str | None, refusal_message: str | None = None) -> bool:
    """True when `text` gives no answer: empty (no letter or digit), a refusal (`is_refusal`, the product's own
    `refusal_message` included) or a statement of not knowing (UNKNOWN_PHRASES: "我不知道", "I don't know",
    "没有找到相关答案"). Such an answer is unanswered: it is neither grounded nor free of hallucination."""
    if not tokens(text):
        return True
    return is_refusal(text, refusal_message) or bool(_UNKNOWN.search(_nfkc(text).replace("’", "'")))


# ---- all together ----------------------------------------------------------------------------------------------


def score_generations(predictions: Sequence[str], references: Sequence[str], *,
                      sources: Sequence[Sequence[str] | None] | None = None,
                      threshold: float = 0.5, refusal_message: str | None = None,
                      checker: Any = None) -> dict[str, float | None]:
    """Mean exact_match, f1 and rouge_l, corpus bleu and — when `sources` (per row a list of source strings, the
    row's reference used where it is None) are given — the answer metrics of
    `mofang.core.metrics.grounding.answer_metrics`: answered_rate, hallucination_rate (None when nothing was
    answered) and grounded_rate, with `checker` (default: `grounding_checker(threshold)`)."""
    if not predictions:
        raise MofangError("score_generations: no predictions to score")
    if len(predictions) != len(references):
        raise MofangError(f"score_generations: {len(predictions)} predictions but {len(references)} references")
    preds = [str(p) if p is not None else "" for p in predictions]
    refs = [str(r) if r is not None else "" for r in references]
    result: dict[str, float | None] = {
        "exact_match": float(np.mean([exact_match(p, r) for p, r in zip(preds, refs, strict=True)])),
        "f1": float(np.mean([token_f1(p, r) for p, r in zip(preds, refs, strict=True)])),
        "rouge_l": float(np.mean([rouge_l(p, r) for p, r in zip(preds, refs, strict=True)])),
        "bleu": bleu(preds, refs),
    }
    if sources is not None:
        from mofang.core.metrics.grounding import answer_metrics, grounding_checker

        if len(sources) != len(preds):
            raise MofangError(f"score_generations: {len(preds)} predictions but {len(sources)} rows of sources")
        rows = [[r] if src is None else [src] if isinstance(src, str) else list(src)
                for r, src in zip(refs, sources, strict=True)]
        measured = answer_metrics(preds, rows, checker=checker or grounding_checker(threshold),
                                  refusal_message=refusal_message)
        result.update({k: v for k, v in measured.metrics().items() if k != "no_answer_recall"})
    return result
