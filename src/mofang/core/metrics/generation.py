"""Metrics of generated text (Chinese-aware): exact match, token F1, ROUGE-L, BLEU, multiple-choice letters,
a grounding check (unsupported claims count as hallucinations) and a refusal check. Pure stdlib + numpy."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mofang.core.errors import MofangError

# Han (incl. extension A and compatibility), kana and Hangul: scripts written without spaces, one token a character
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")


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


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence (dynamic programming, one row kept)."""
    if not a or not b:
        return 0
    row = [0] * (len(b) + 1)
    for x in a:
        prev_diag = 0
        for j, y in enumerate(b, start=1):
            prev_diag, row[j] = row[j], prev_diag + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (beta=1) of the LCS of the two token sequences (1.0 when both are empty)."""
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return float(pred == ref)
    lcs = _lcs(pred, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(pred), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def _ngrams(toks: Sequence[str], n: int) -> Counter:
    return Counter(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


def bleu(predictions: Sequence[str], references: Sequence[str | Sequence[str]], max_n: int = 4) -> float:
    """Corpus BLEU (0..1) on `tokens`: clipped n-gram precisions pooled over the corpus for n = 1..max_n, add-one
    smoothing for n > 1 (Lin & Och 2004), uniform geometric mean, brevity penalty exp(1 - r/c) when the corpus
    is shorter than the references (r: per row the reference length closest to the prediction's). Each
    reference is a string or a list of alternative strings."""
    if len(predictions) != len(references):
        raise MofangError(f"bleu: {len(predictions)} predictions but {len(references)} references")
    if max_n < 1:
        raise MofangError(f"bleu: max_n must be at least 1, got {max_n}")
    matches, totals = np.zeros(max_n), np.zeros(max_n)
    pred_len = ref_len = 0
    for prediction, reference in zip(predictions, references, strict=True):
        pred = tokens(prediction)
        refs = [tokens(r) for r in ([reference] if isinstance(reference, str) else reference)] or [[]]
        pred_len += len(pred)
        ref_len += min((len(r) for r in refs), key=lambda length: (abs(length - len(pred)), length))
        for n in range(1, max_n + 1):
            counts = _ngrams(pred, n)
            most: Counter = Counter()
            for ref in refs:
                most |= _ngrams(ref, n)
            matches[n - 1] += sum(min(c, most[g]) for g, c in counts.items())
            totals[n - 1] += max(len(pred) - n + 1, 0)
    if pred_len == 0 or matches[0] == 0:
        return 0.0
    precisions = [matches[0] / totals[0]] + [(matches[i] + 1) / (totals[i] + 1) for i in range(1, max_n)]
    brevity = 1.0 if pred_len > ref_len else math.exp(1 - ref_len / pred_len)
    return float(brevity * math.exp(sum(math.log(p) for p in precisions) / max_n))


def sentence_bleu(prediction: str, reference: str | Sequence[str], max_n: int = 4) -> float:
    """BLEU of one prediction against its reference(s) (the corpus BLEU of a one-row corpus)."""
    return bleu([prediction], [reference], max_n=max_n)


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


# ---- grounding -------------------------------------------------------------------------------------------------

_CLAIM_SPLIT = re.compile(r"[。！？!?；;\n\r]+|\.(?=\s|$)")
MIN_CLAIM_TOKENS = 4


def claims(answer: str | None) -> list[str]:
    """The claims of an answer: its sentences (split on 。！？!?；; newlines, and a full stop before a space),
    stripped, without fragments of fewer than MIN_CLAIM_TOKENS tokens."""
    parts = (part.strip() for part in _CLAIM_SPLIT.split(_nfkc(answer)))
    return [part for part in parts if len(tokens(part)) >= MIN_CLAIM_TOKENS]


def support(claim: str, source: str) -> float:
    """Share of the claim's token bigrams (unigrams when the claim has fewer than 3 tokens) found in `source`;
    0.0 for a claim without tokens."""
    claim_toks, source_toks = tokens(claim), tokens(source)
    n = 2 if len(claim_toks) >= 3 else 1
    wanted = [tuple(claim_toks[i:i + n]) for i in range(len(claim_toks) - n + 1)]
    if not wanted:
        return 0.0
    present = {tuple(source_toks[i:i + n]) for i in range(len(source_toks) - n + 1)}
    return sum(gram in present for gram in wanted) / len(wanted)


@dataclass(frozen=True)
class Grounding:
    """The grounding check of one answer: its claims, each claim's best support over the sources, and whether
    that support reaches the threshold."""

    claims: list[str]
    scores: list[float] = field(default_factory=list)
    supported: list[bool] = field(default_factory=list)

    @property
    def hallucinations(self) -> int:
        """Number of claims no source supports."""
        return sum(not ok for ok in self.supported)

    @property
    def hallucination_rate(self) -> float:
        """Unsupported claims / claims (0.0 when the answer makes no claim)."""
        return self.hallucinations / len(self.claims) if self.claims else 0.0

    @property
    def supported_rate(self) -> float:
        """Supported claims / claims (1.0 when the answer makes no claim, i.e. 1 - hallucination_rate)."""
        return 1.0 - self.hallucination_rate


def grounding(answer: str, sources: Sequence[str], threshold: float = 0.5) -> Grounding:
    """Check each claim of `answer` against `sources` (reference answer or retrieved passages): its score is the
    best `support` over the sources, and it is supported when the score is at least `threshold`."""
    if isinstance(sources, str):
        sources = [sources]
    found = claims(answer)
    scores = [max((support(claim, src) for src in sources), default=0.0) for claim in found]
    return Grounding(claims=found, scores=scores, supported=[s >= threshold for s in scores])


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


# ---- all together ----------------------------------------------------------------------------------------------


def score_generations(predictions: Sequence[str], references: Sequence[str], *,
                      sources: Sequence[Sequence[str] | None] | None = None,
                      threshold: float = 0.5) -> dict[str, float]:
    """Mean exact_match, f1 and rouge_l, corpus bleu and — when `sources` (per row a list of source strings, the
    row's reference used where it is None) are given — the pooled `hallucination_rate` (unsupported claims /
    claims) and `grounded_rate` (share of answers without an unsupported claim)."""
    if not predictions:
        raise MofangError("score_generations: no predictions to score")
    if len(predictions) != len(references):
        raise MofangError(f"score_generations: {len(predictions)} predictions but {len(references)} references")
    preds = [str(p) if p is not None else "" for p in predictions]
    refs = [str(r) if r is not None else "" for r in references]
    result = {
        "exact_match": float(np.mean([exact_match(p, r) for p, r in zip(preds, refs, strict=True)])),
        "f1": float(np.mean([token_f1(p, r) for p, r in zip(preds, refs, strict=True)])),
        "rouge_l": float(np.mean([rouge_l(p, r) for p, r in zip(preds, refs, strict=True)])),
        "bleu": bleu(preds, refs),
    }
    if sources is not None:
        if len(sources) != len(preds):
            raise MofangError(f"score_generations: {len(preds)} predictions but {len(sources)} rows of sources")
        checks = [grounding(p, [r] if src is None else [src] if isinstance(src, str) else list(src), threshold)
                  for p, r, src in zip(preds, refs, sources, strict=True)]
        total = sum(len(c.claims) for c in checks)
        result["hallucination_rate"] = sum(c.hallucinations for c in checks) / total if total else 0.0
        result["grounded_rate"] = float(np.mean([c.hallucinations == 0 for c in checks]))
    return result
